import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createApp } from "../src/app";
import { createServices, type Services } from "../src/services";
import { testEnv } from "./support/env";
import { harness, type Harness } from "./support/harness";
import { expectError, requester } from "./support/http";
import { activeStatements, eventually, lockTable, type TableLock } from "./support/pg-lock";

// Issue 8, item 3: with DB_POOL_MAX=2 and the documents table locked by another connection,
// reads of users must still be answered, document reads past the pool's share must get a fast
// 503 pool_exhausted, and /readyz must say "busy", not "down".

async function seed(url: string, users: number, docs: number) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into users (email, name) select 'u' || g || '@example.com', 'User ' || g from generate_series(1, ${users}) g`;
    await sql`insert into documents (user_id, title) select 1 + (g % ${users}), 'Doc ' || g from generate_series(1, ${docs}) g`;
  } finally {
    await sql.end();
  }
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);

describe("a locked documents table with DB_POOL_MAX=2", () => {
  let h: Harness;
  let lock: TableLock | undefined;
  beforeAll(async () => {
    h = await harness("pool", {
      // Depth 1: the blocked read fills the general lane, so the next ones queue and are refused.
      env: {
        DB_POOL_MAX: "2",
        DB_POOL_RESERVED: "1",
        DB_PIPELINE_DEPTH: "1",
        DB_ACQUIRE_TIMEOUT_MS: "300",
        DB_STATEMENT_TIMEOUT_MS: "0",
        REQUEST_TIMEOUT_MS: "60000",
      },
    });
    await seed(h.dbUrl, 20, 40);
  });
  afterAll(async () => {
    await lock?.release();
    await h.close();
  });

  test("users reads answer 200 while the lock is held; document reads past the share get 503 pool_exhausted; /readyz says busy", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    // Without the queue's bound, a test run on a broken tree would hang: free the lock eventually
    // so it fails on the assertions instead.
    const safety = setTimeout(() => void lock?.release(), 20_000);
    try {
      let blockedDone = false;
      const blocked = h.request("/documents/1").then((r) => ((blockedDone = true), r));
      expect(await eventually(async () => (await activeStatements(h.dbUrl)).some((s) => s.wait_event_type === "Lock"))).toBe(true);

      // More document reads: the general lane (one connection) is taken, so they wait for the
      // acquisition timeout and are refused with a 503 that says when to come back.
      const refused = [h.request("/documents/2"), h.request("/users/3/documents"), h.request("/users/4/stats")];

      // Point reads have their own lane and connection: a profile never read before (a cache miss
      // that runs its statement) is answered while the blocked read still waits for the lock.
      for (const id of [5, 6, 7]) {
        const res = await h.request(`/users/${id}`);
        expect(res.status).toBe(200);
        expect((await res.json()).name).toBe(`User ${id}`);
      }
      expect((await h.request("/flags")).status).toBe(200);

      // Readiness: Postgres answers on the probe's own connection, the pool is saturated → busy, 200.
      const ready = await h.request("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "busy", cache: "ok" } });

      for (const p of refused) {
        const res = await p;
        await expectError(res, 503, "pool_exhausted");
        expect(res.headers.get("retry-after")).toBe("1");
      }
      expect(blockedDone).toBe(false);

      const metrics = await (await h.request("/metrics", { as: "admin" })).text();
      expect(metric(metrics, "db_pool_acquire_timeouts_total")).toBeGreaterThanOrEqual(3);
      expect(metric(metrics, "db_pool_statements_in_flight")).toBe(1);
      expect(metric(metrics, "db_pool_max")).toBe(2);
      expect(metric(metrics, 'db_pool_acquire_wait_seconds_count{class="point"}')).toBeGreaterThanOrEqual(3);

      await lock.release();
      expect((await blocked).status).toBe(200);
    } finally {
      clearTimeout(safety);
    }
    const after = await h.request("/readyz");
    expect(await after.json()).toEqual({ status: "ready", checks: { postgres: "ok", cache: "ok" } });
    expect(h.services.database.pool.inUse).toBe(0);
    expect((await h.request("/documents/2")).status).toBe(200);
  });
});

describe("PGlite (one connection): the same queue", () => {
  let services: Services;
  let request: ReturnType<typeof requester>;
  beforeAll(async () => {
    const env = testEnv({ PGLITE_DIR: "memory://", DB_ACQUIRE_TIMEOUT_MS: "200", DB_SEED_DEMO: "false" });
    services = await createServices(env);
    request = requester(createApp(services));
    const created = await request("/users", { method: "POST", as: "admin", json: { email: "p@example.com", name: "P" } });
    expect(created.status).toBe(201);
  });
  afterAll(() => services.close());

  test("a transaction holding the connection: reads wait, then 503 pool_exhausted; readiness says busy; then all is well", async () => {
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    let inside!: () => void;
    const started = new Promise<void>((r) => (inside = r));
    const tx = services.database.db.transaction(async (t) => {
      await t.execute("select 1");
      inside();
      await held;
    });
    await started;
    try {
      expect(services.database.pool.inUse).toBe(1);
      const res = await request("/users/1");
      await expectError(res, 503, "pool_exhausted");
      expect(res.headers.get("retry-after")).toBe("1");
      const ready = await request("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "busy", cache: "ok" } });
    } finally {
      finish();
      await tx;
    }
    expect(services.database.pool.inUse).toBe(0);
    const res = await request("/users/1");
    expect(res.status).toBe(200);
    expect((await res.json()).name).toBe("P");
  });
});
