import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { CacheEvent, RequestEvent } from "../src/context/telemetry";
import { harness, serverTiming, type Harness } from "./support/harness";
import { eventually, lockTable, type TableLock } from "./support/pg-lock";

// Issue 12: Server-Timing that adds up. pool = waits for admission to the pool (a real lock and
// DB_POOL_MAX=2 make one), app = total − db − pool − cache, the fill after a miss counted in cache.

let h: Harness;

beforeAll(async () => {
  h = await harness("server_timing_sum", {
    // Depth 1: one statement blocked on the lock fills the general lane; the next one queues.
    env: {
      DB_POOL_MAX: "2",
      DB_POOL_RESERVED: "1",
      DB_PIPELINE_DEPTH: "1",
      DB_ACQUIRE_TIMEOUT_MS: "30000",
      DB_STATEMENT_TIMEOUT_MS: "0",
      REQUEST_TIMEOUT_MS: "60000",
    },
  });
  const sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into users (email, name) select 'u' || g || '@example.com', 'User ' || g from generate_series(1, 5) g`;
    await sql`insert into documents (user_id, title) select 1 + (g % 5), 'Doc ' || g from generate_series(1, 10) g`;
  } finally {
    await sql.end();
  }
});
afterAll(() => h.close());

const dur = (res: Response, name: string) => serverTiming(res)[name]?.dur ?? 0;

/** The relation the header promises for a sequential request: the parts add up to total. */
function expectSum(res: Response) {
  const st = serverTiming(res);
  expect(st.app?.dur).toBeGreaterThanOrEqual(0);
  expect(st.total?.dur).toBeGreaterThanOrEqual(0);
  const parts = dur(res, "pool") + dur(res, "db") + dur(res, "cache") + dur(res, "app");
  // Entries are rounded to 0.01 ms and app is computed from the rounded ones: only float noise is left.
  expect(Math.abs(parts - dur(res, "total"))).toBeLessThan(0.001);
}

describe("pool + db + cache + app = total", () => {
  test("miss, hit, write, list, 404, health", async () => {
    const responses = [
      await h.request("/users/1"), // miss: read, query, fill
      await h.request("/users/1"), // hit
      await h.request("/documents/1"),
      await h.request("/users/1/documents?limit=3"), // uncached: db only
      await h.request("/documents", { method: "POST", as: "admin", json: { userId: 1, title: "new" } }), // write + evict
      await h.request("/nope"),
      await h.request("/healthz"),
    ];
    for (const res of responses) {
      expect(res.status).toBeLessThan(500);
      expectSum(res);
    }
    // pool is there once a statement ran, absent otherwise.
    expect(serverTiming(responses[0]!).pool).toBeDefined();
    expect(serverTiming(responses[1]!).pool).toBeUndefined();
  });

  test("the fill after a miss is counted in cache: cache = read + fill", async () => {
    const events: CacheEvent[] = [];
    let done: RequestEvent | undefined;
    const offCache = h.services.telemetry.cache.on((e) => events.push(e));
    const offReq = h.services.telemetry.request.on((e) => (done = e));
    try {
      const res = await h.request("/users/2");
      expect(serverTiming(res).cache?.desc).toBe("miss");
      expect(events.map((e) => `${e.op} ${e.result}`)).toEqual(["get miss", "set filled"]);
      const readAndFill = events[0]!.durMs + events[1]!.durMs;
      expect(done!.stats.cacheMs).toBeCloseTo(readAndFill, 9);
      // What the client sees: the header's cache entry is read + fill (to its 0.01 ms rounding),
      // more than the read alone.
      expect(serverTiming(res).cache?.dur).toBe(Math.round(readAndFill * 100) / 100);
    } finally {
      offCache();
      offReq();
    }
  });
});

describe("pool: time waiting for admission, with a real lock and DB_POOL_MAX=2", () => {
  let lock: TableLock | undefined;
  afterAll(() => lock?.release());

  test("a read queued behind a blocked one shows its wait in pool, not db; the gauge and histogram measure it", async () => {
    const metrics = async () => (await h.request("/metrics", { as: "admin" })).text();
    const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    const countBefore = metric(await metrics(), 'db_pool_acquire_wait_seconds_count{class="general"}');

    lock = await lockTable(h.dbUrl, "documents");
    const safety = setTimeout(() => void lock?.release(), 20_000);
    try {
      // The first takes the general lane's only slot and waits on the lock inside Postgres...
      const blocked = h.request("/documents/3");
      expect(await eventually(() => h.services.database.pool.inUse === 1)).toBe(true);
      // ...the second waits in the queue for that slot.
      const queued = h.request("/documents/4");
      expect(await eventually(() => h.services.database.pool.waiting === 1)).toBe(true);
      // The gauge is the queue's length at scrape time, not something derived from the histogram.
      expect(metric(await metrics(), "db_pool_waiting")).toBe(1);
      await lock.release();

      const [first, second] = await Promise.all([blocked, queued]);
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      // The blocked one was admitted at once: its lock wait is time in Postgres (db), not pool.
      expect(dur(first, "pool")).toBe(0);
      expect(dur(first, "db")).toBeGreaterThan(0);
      // The queued one waited in the queue for as long as the first held the slot.
      expect(dur(second, "pool")).toBeGreaterThan(0);
      expectSum(first);
      expectSum(second);

      const after = await metrics();
      expect(metric(after, "db_pool_waiting")).toBe(0);
      // Every admission is observed (free slots as 0): at least the two reads, the queued one with its wait.
      expect(metric(after, 'db_pool_acquire_wait_seconds_count{class="general"}') - countBefore).toBeGreaterThanOrEqual(2);
      expect(metric(after, 'db_pool_acquire_wait_seconds_sum{class="general"}')).toBeGreaterThan(0);
    } finally {
      clearTimeout(safety);
    }
  });
});
