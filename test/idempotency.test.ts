import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import postgres from "postgres";
import { idempotencyStore } from "../src/db/idempotency";
import { idempotency } from "../src/middleware/idempotency";
import { harness, type Harness } from "./support/harness";
import { expectError } from "./support/http";
import { activeStatements, eventually, lockTable, type TableLock } from "./support/pg-lock";

// Issue 8, item 4 (writes): Idempotency-Key on POST/PUT/PATCH/DELETE, stored in Postgres.

async function countTitled(url: string, title: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from documents where title = ${title}`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

const post = (h: Harness, key: string, json: unknown) =>
  h.request("/documents", { method: "POST", as: "admin", json, headers: { "Idempotency-Key": key } });

describe("Idempotency-Key", () => {
  let h: Harness;
  let lock: TableLock | undefined;
  beforeAll(async () => {
    h = await harness("idempotency", { env: { DB_STATEMENT_TIMEOUT_MS: "0" } });
    const created = await h.request("/users", { method: "POST", as: "admin", json: { email: "a@example.com", name: "A" } });
    expect(created.status).toBe(201);
  });
  afterEach(async () => {
    await lock?.release();
    lock = undefined;
  });
  afterAll(() => h.close());

  test("a retry gets the first answer (status, body, Location) and the write is applied once", async () => {
    const first = await post(h, "create-1", { userId: 1, title: "once" });
    expect(first.status).toBe(201);
    const doc = await first.json();
    const again = await post(h, "create-1", { userId: 1, title: "once" });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(`/documents/${doc.id}`);
    expect(again.headers.get("content-type")).toContain("application/json");
    expect(await again.json()).toEqual(doc);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await countTitled(h.dbUrl, "once")).toBe(1);
  });

  test("the same key with another body or another path is a 422; another key is another write", async () => {
    expect((await post(h, "create-2", { userId: 1, title: "two" })).status).toBe(201);
    const body = await expectError(await post(h, "create-2", { userId: 1, title: "changed" }), 422, "idempotency_key_reused");
    expect(body.error.details[0]).toMatchObject({ location: "header", path: "Idempotency-Key" });
    const patched = await h.request("/documents/1", { method: "PATCH", as: "admin", json: { title: "two" }, headers: { "Idempotency-Key": "create-2" } });
    await expectError(patched, 422, "idempotency_key_reused");
    expect((await post(h, "create-3", { userId: 1, title: "two" })).status).toBe(201);
    expect(await countTitled(h.dbUrl, "two")).toBe(2);
  });

  test("a malformed key is a 400 and nothing is written", async () => {
    for (const key of ["", "x".repeat(256), "tab\there"]) {
      const body = await expectError(await post(h, key, { userId: 1, title: "bad-key" }), 400, "validation_failed");
      expect(body.error.details[0]).toMatchObject({ location: "header", path: "Idempotency-Key" });
    }
    expect((await post(h, "x".repeat(255), { userId: 1, title: "long-key" })).status).toBe(201);
    expect(await countTitled(h.dbUrl, "bad-key")).toBe(0);
  });

  test("4xx answers are final too; DELETE and PATCH retries repeat their first answer", async () => {
    const missing = await expectError(await post(h, "bad-ref", { userId: 999, title: "x" }), 422, "unknown_reference");
    const replayed = await post(h, "bad-ref", { userId: 999, title: "x" });
    expect(replayed.status).toBe(422);
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    // The first answer byte for byte: its requestId names the request that did the work.
    expect(await replayed.json()).toEqual(missing);
    expect(replayed.headers.get("x-request-id")).not.toBe(missing.requestId);

    const doc = await (await post(h, "for-delete", { userId: 1, title: "to delete" })).json();
    const patch = () => h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json: { title: "renamed" }, headers: { "Idempotency-Key": "p-1" } });
    const patched = await (await patch()).json();
    expect(patched.title).toBe("renamed");
    await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json: { title: "renamed again" } });
    expect(await (await patch()).json()).toEqual(patched);

    const del = () => h.request(`/documents/${doc.id}`, { method: "DELETE", as: "admin", headers: { "Idempotency-Key": "d-1" } });
    expect((await del()).status).toBe(204);
    const again = await del();
    expect(again.status).toBe(204);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe("");
    expect((await h.request(`/documents/${doc.id}`, { method: "DELETE", as: "admin" })).status).toBe(404);
  });

  test("a record past its day, or a claim whose request died (lease over), no longer holds the key", async () => {
    const sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
    try {
      // A day-old answer for another request, and an in-progress claim whose lease ran out.
      await sql`insert into idempotency_keys (scope, key, fingerprint, owner, status, headers, body, created_at, locked_until)
                values ('', 'old-1', 'other', 'x', 201, '{}', '{}', now() - interval '25 hours', now() - interval '25 hours'),
                       ('', 'dead-1', 'other', 'y', null, null, null, now() - interval '1 minute', now() - interval '1 second')`;
    } finally {
      await sql.end();
    }
    expect((await post(h, "old-1", { userId: 1, title: "expired key" })).status).toBe(201);
    expect((await post(h, "dead-1", { userId: 1, title: "taken over" })).status).toBe(201);
    expect(await countTitled(h.dbUrl, "expired key")).toBe(1);
    expect(await countTitled(h.dbUrl, "taken over")).toBe(1);
    expect((await post(h, "dead-1", { userId: 1, title: "taken over" })).headers.get("idempotent-replayed")).toBe("true");
  });

  test("keys are scoped by the verified caller (c.var.auth.sub) when an auth middleware sets it", async () => {
    // The service's auth middleware is not part of this tree yet: a bare app with a stand-in that
    // sets c.var.auth the way it will, then the real middleware and store over the real database.
    let applied = 0;
    const app = new Hono<{ Variables: { auth: { sub: string } } }>()
      .use(async (c, next) => {
        const sub = c.req.header("x-test-sub");
        if (sub) c.set("auth", { sub });
        await next();
      })
      .use(idempotency({ store: idempotencyStore(h.services.database.db, { ttlS: 86_400, leaseMs: 10_000 }) }))
      .post("/things", (c) => c.json({ n: ++applied }, 201));
    const send = (sub: string | undefined) =>
      app.request("/things", { method: "POST", body: "{}", headers: { "Idempotency-Key": "shared", ...(sub ? { "x-test-sub": sub } : {}) } });
    expect(await (await send("alice")).json()).toEqual({ n: 1 });
    expect(await (await send("bob")).json()).toEqual({ n: 2 });
    expect(await (await send(undefined)).json()).toEqual({ n: 3 });
    const again = await send("alice");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual({ n: 1 });
    expect(applied).toBe(3);
  });

  test("a retry while the first request still runs (blocked on a real lock) is a 409 with Retry-After", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    const first = post(h, "slow-1", { userId: 1, title: "slow" });
    expect(await eventually(async () => (await activeStatements(h.dbUrl)).some((s) => s.wait_event_type === "Lock"))).toBe(true);
    const retry = await post(h, "slow-1", { userId: 1, title: "slow" });
    await expectError(retry, 409, "idempotency_in_progress");
    expect(retry.headers.get("retry-after")).toBe("1");
    await lock.release();
    const done = await first;
    expect(done.status).toBe(201);
    const replay = await post(h, "slow-1", { userId: 1, title: "slow" });
    expect(replay.status).toBe(201);
    expect(await replay.json()).toEqual(await done.json());
    expect(await countTitled(h.dbUrl, "slow")).toBe(1);
  });
});

describe("Idempotency-Key and a write that timed out (504)", () => {
  let h: Harness;
  let lock: TableLock | undefined;
  beforeAll(async () => {
    h = await harness("idempotency_timeout", { env: { REQUEST_TIMEOUT_MS: "400", DB_STATEMENT_TIMEOUT_MS: "0" } });
    expect((await h.request("/users", { method: "POST", as: "admin", json: { email: "t@example.com", name: "T" } })).status).toBe(201);
  });
  afterAll(async () => {
    await lock?.release();
    await h.close();
  });

  test("the cancelled write records nothing under the key; the retry applies it once, later retries replay it", async () => {
    lock = await lockTable(h.dbUrl, "documents");
    await expectError(await post(h, "t-1", { userId: 1, title: "timed out" }), 504, "timeout");
    expect(await eventually(async () => (await activeStatements(h.dbUrl)).length === 0)).toBe(true);
    await lock.release();
    lock = undefined;
    expect(await countTitled(h.dbUrl, "timed out")).toBe(0);

    // The claim is dropped once the cancelled statement's error reaches the middleware: until
    // then a retry is told to come back (409), never applied twice.
    let retry = await post(h, "t-1", { userId: 1, title: "timed out" });
    for (let i = 0; i < 50 && retry.status === 409; i++) {
      await Bun.sleep(20);
      retry = await post(h, "t-1", { userId: 1, title: "timed out" });
    }
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    const doc = await retry.json();
    const again = await post(h, "t-1", { userId: 1, title: "timed out" });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(doc);
    expect(await countTitled(h.dbUrl, "timed out")).toBe(1);
  });
});
