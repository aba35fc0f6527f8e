import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { minIdleTimeoutS, parseEnv } from "../src/env";
import { freshDatabase, REDIS_URL, freshPrefix } from "./support/env";
import { startService } from "./support/spawn";
import { tokenFor } from "./support/auth";

const ADMIN_JSON = { "content-type": "application/json", authorization: `Bearer ${await tokenFor("admin")}` };

// Issue 8, item 2: the server's idle timeout is derived from REQUEST_TIMEOUT_MS so the app's own
// 504 always reaches the client, and a configuration where they contradict cannot start.
// Small values keep the test short: REQUEST_TIMEOUT_MS=1500 against a real lock.
let dbUrl: string;
let svc: Awaited<ReturnType<typeof startService>>;
let locker: postgres.Sql;

beforeAll(async () => {
  dbUrl = (await freshDatabase("timeouts")).url;
  svc = await startService({ DATABASE_URL: dbUrl, REDIS_URL, REDIS_KEY_PREFIX: await freshPrefix("hpt-timeouts"), LOG_LEVEL: "info", REQUEST_TIMEOUT_MS: "1500", SHUTDOWN_DRAIN_S: "0" });
  locker = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const res = await fetch(`${svc.url}/users`, { method: "POST", headers: ADMIN_JSON, body: JSON.stringify({ email: "t@example.com", name: "T" }) });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await locker?.end();
  if (svc) expect(await svc.stop()).toBe(0);
});

let nextId = 1000;
/** An id never read before: its profile is not cached, so reading it needs the (locked) table. */
const uncachedId = () => nextId++;

/** Runs `fn` while the users table is locked: a profile read is held until the lock goes. */
async function whileLocked<T>(fn: () => Promise<T>): Promise<T> {
  const conn = await locker.reserve();
  try {
    await conn`begin`;
    await conn`lock table users in access exclusive mode`;
    return await fn();
  } finally {
    await conn`rollback`;
    conn.release();
  }
}

const requestLines = () =>
  svc.output().split("\n").filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as { requestId: string; status: number; route: string });

async function lineFor(requestId: string) {
  for (let i = 0; i < 200; i++) {
    const line = requestLines().find((l) => l.requestId === requestId);
    if (line) return line;
    await Bun.sleep(25);
  }
  throw new Error(`no request line for ${requestId}`);
}

test("the idle timeout is derived from REQUEST_TIMEOUT_MS, with room for Bun's 4 s idle tick", () => {
  expect(parseEnv({}).SERVER_IDLE_TIMEOUT_S).toBe(minIdleTimeoutS(15_000));
  expect(minIdleTimeoutS(15_000)).toBeGreaterThanOrEqual(15 + 5);
  expect(parseEnv({ REQUEST_TIMEOUT_MS: "1500" }).SERVER_IDLE_TIMEOUT_S).toBe(2 + 5);
  expect(parseEnv({ REQUEST_TIMEOUT_MS: "250000" }).SERVER_IDLE_TIMEOUT_S).toBe(255);
  expect(parseEnv({ REQUEST_TIMEOUT_MS: "3000", SERVER_IDLE_TIMEOUT_S: "0" }).SERVER_IDLE_TIMEOUT_S).toBe(0);
  expect(() => parseEnv({ REQUEST_TIMEOUT_MS: "20000", SERVER_IDLE_TIMEOUT_S: "10" })).toThrow(/SERVER_IDLE_TIMEOUT_S[\s\S]*REQUEST_TIMEOUT_MS=20000/);
  // Past 250 s no idle timeout Bun accepts (max 255 s) could outlast it.
  expect(() => parseEnv({ REQUEST_TIMEOUT_MS: "251000" })).toThrow(/REQUEST_TIMEOUT_MS/);
});

test("a contradicting configuration does not start: exit 1 naming both variables", async () => {
  const proc = Bun.spawn(["bun", "run", "src/index.ts"], {
    env: { ...process.env, REQUEST_TIMEOUT_MS: "20000", SERVER_IDLE_TIMEOUT_S: "10", DATABASE_URL: "", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(1);
  const err = await new Response(proc.stderr).text();
  expect(err).toContain("SERVER_IDLE_TIMEOUT_S");
  expect(err).toContain("REQUEST_TIMEOUT_MS");
});

test("a request slower than REQUEST_TIMEOUT_MS gets the app's 504 JSON over the open connection, logged as 504", async () => {
  const res = await whileLocked(() => fetch(`${svc.url}/users/${uncachedId()}`));
  expect(res.status).toBe(504);
  const body = (await res.json()) as { error: { code: string }; requestId: string };
  expect(body.error.code).toBe("timeout");
  expect(body.requestId).toBe(res.headers.get("x-request-id")!);
  expect((await lineFor(body.requestId)).status).toBe(504);
});

test("a client that gives up before the answer is counted 499 (client closed request), not 504", async () => {
  const requestId = `abort-${crypto.randomUUID()}`;
  await whileLocked(async () => {
    const aborted = fetch(`${svc.url}/users/${uncachedId()}`, { headers: { "x-request-id": requestId }, signal: AbortSignal.timeout(200) });
    expect(await aborted.then(() => "answered", (e: Error) => e.name)).toBe("TimeoutError");
    // Hold the lock until the app has finished with the request (its own timeout fires at 1.5 s).
    await lineFor(requestId);
  });
  expect((await lineFor(requestId)).status).toBe(499);
  const routes = await fetch(`${svc.url}/metrics`, { headers: ADMIN_JSON }).then((r) => r.text());
  expect(routes).toMatch(/http_server_request_duration_seconds_count\{method="GET",route="\/users\/:id",status_code="499"\} 1/);
});
