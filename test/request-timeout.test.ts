import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { createApp } from "../src/app";
import { logger } from "../src/lib/log";
import { ApiError } from "../src/lib/errors";
import { RequestStats, requestStore } from "../src/context/request";
import { harness, type Harness } from "./support/harness";
import { expectError } from "./support/http";
import { activeStatements, eventually, lockTable, type TableLock } from "./support/pg-lock";

// Issue 8, item 4: a request that times out must not leave its statement running (holding a
// connection), and a write answered 504 must not commit once the lock goes away.

// No server-side statement timeout: only the request timeout can end the blocked statement.
// Depth 1: one blocked statement fills the general lane, so a second one waits in the queue.
const TIMEOUT_ENV = { REQUEST_TIMEOUT_MS: "400", DB_STATEMENT_TIMEOUT_MS: "0", DB_POOL_MAX: "2", DB_PIPELINE_DEPTH: "1", DB_ACQUIRE_TIMEOUT_MS: "5000" };

async function seed(dbUrl: string) {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into users (email, name) select 'u' || g || '@example.com', 'User ' || g from generate_series(1, 5) g`;
    await sql`insert into documents (user_id, title) select 1, 'Doc ' || g from generate_series(1, 5) g`;
  } finally {
    await sql.end();
  }
}

/**
 * A read blocked on the lock and one queued behind it (the general lane is full): the queued one
 * leaves the queue at its own timeout (not after the acquisition timeout), both get their 504,
 * the blocked statement is cancelled and the slots come back; the connection serves others.
 */
async function blockedAndQueued(h: Harness) {
  const blocked = h.request("/documents/1");
  expect(await eventually(async () => (await activeStatements(h.dbUrl)).some((s) => s.wait_event_type === "Lock"))).toBe(true);
  const queued = h.request("/documents/2");
  expect(await eventually(() => h.services.database.pool.waiting === 1)).toBe(true);
  await expectError(await queued, 504, "timeout");
  expect(h.services.database.pool.waiting).toBe(0);
  expect(h.services.database.pool.timeouts).toBe(0);
  await expectError(await blocked, 504, "timeout");
  expect(await eventually(async () => (await activeStatements(h.dbUrl)).length === 0)).toBe(true);
  expect(await eventually(() => h.services.database.pool.inUse === 0)).toBe(true);
  // The lock is still held; the connection the blocked read had serves other statements.
  expect((await h.request("/users/1")).status).toBe(200);
}

describe("REQUEST_TIMEOUT_MS with a statement blocked on a real lock", () => {
  let h: Harness;
  let lock: TableLock | undefined;
  beforeAll(async () => {
    h = await harness("request_timeout", { env: TIMEOUT_ENV });
    await seed(h.dbUrl);
  });
  afterEach(async () => {
    await lock?.release();
    lock = undefined;
  });
  afterAll(() => h.close());

  test("a read: 504, the statement is cancelled (gone from pg_stat_activity), and its connection serves other statements", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    const res = await h.request("/documents/1");
    const body = await expectError(res, 504, "timeout");
    expect(body.error.message).toContain("Idempotency-Key");

    expect(await eventually(async () => (await activeStatements(h.dbUrl)).length === 0)).toBe(true);
    expect(await eventually(() => h.services.database.pool.inUse === 0)).toBe(true);
    // The lock is still held. A write that needs the general share (the connection the blocked
    // read held) goes through, and so does a read of an unlocked table.
    const created = await h.request("/users", { method: "POST", as: "admin", json: { email: "new@example.com", name: "New" } });
    expect(created.status).toBe(201);
    expect((await h.request("/users/2")).status).toBe(200);
  });

  test("a timed-out request is logged once, as its 504: the cancelled statement's late error is not a second error line", async () => {
    const lines: string[] = [];
    const app = createApp({ ...h.services, env: { ...h.env, LOG_LEVEL: "info" }, log: logger("info", (l) => lines.push(l)) });
    lock = await lockTable(h.dbUrl, "documents");
    const res = await app.request("/documents/3");
    await expectError(res as Response, 504, "timeout");
    const requestId = res.headers.get("x-request-id");
    // The statement is cancelled and its promise settles (the slot is released), then the
    // handler's error unwinds through the app.
    expect(await eventually(async () => (await activeStatements(h.dbUrl)).length === 0)).toBe(true);
    expect(await eventually(() => h.services.database.pool.inUse === 0)).toBe(true);
    await Bun.sleep(50);
    const mine = lines.map((l) => JSON.parse(l)).filter((l) => l.requestId === requestId);
    expect(mine.filter((l) => l.level === "error")).toEqual([]);
    expect(mine.filter((l) => l.msg === "request timed out; its statements were cancelled").map((l) => l.level)).toEqual(["warn"]);
    expect(mine.filter((l) => l.msg === "request").map((l) => l.status)).toEqual([504]);
  });

  test("a request still waiting for a slot when it times out leaves the queue at once (not after the acquisition timeout)", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    await blockedAndQueued(h);
  });

  test("a timed-out request's scope refuses new statements (its handler may still be running)", async () => {
    const scope = new RequestStats("t");
    scope.timedOut = true;
    const run = requestStore.run(scope, async () => await h.services.database.db.execute(sql`select 1`));
    const err = await run.then(() => null, (e: unknown) => e as { cause?: unknown });
    expect(err?.cause ?? err).toBeInstanceOf(ApiError);
    expect(((err?.cause ?? err) as ApiError).status).toBe(504);
    expect(h.services.database.pool.inUse).toBe(0);
  });

  test("a write: 504, the UPDATE is cancelled and rolled back, so it never commits after the lock is released", async () => {
    lock = await lockTable(h.dbUrl, "users");
    const res = await h.request("/users/1", { method: "PATCH", as: "admin", json: { name: "Changed" } });
    await expectError(res, 504, "timeout");
    expect(await eventually(async () => (await activeStatements(h.dbUrl)).length === 0)).toBe(true);
    await lock.release();
    lock = undefined;

    const sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ name: string }[]>`select name from users where id = 1`;
      expect(row!.name).toBe("User 1");
    } finally {
      await sql.end();
    }
    const read = await h.request("/users/1");
    expect((await read.json()).name).toBe("User 1");
  });
});

describe("INSTRUMENTATION=off: the request timeout still cancels what the request left running", () => {
  let h: Harness;
  let lock: TableLock | undefined;
  beforeAll(async () => {
    h = await harness("request_timeout_off", { env: { ...TIMEOUT_ENV, INSTRUMENTATION: "off" } });
    await seed(h.dbUrl);
  });
  afterEach(async () => {
    await lock?.release();
    lock = undefined;
  });
  afterAll(() => h.close());

  test("a blocked read and one queued behind it: both 504, the statement cancelled, the slots back", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    await blockedAndQueued(h);
  });
});
