import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { createApp } from "../src/app";
import { createBreaker } from "../src/cache/breaker";
import { busChannel, createRedisBus, type InvalidationBus } from "../src/cache/bus";
import { createCacheAside, entryJson } from "../src/cache/cache-aside";
import { createRedisStore } from "../src/cache/redis-store";
import { parseEnv } from "../src/env";
import { RequestStats, requestStore } from "../src/context/request";
import { createTelemetry } from "../src/context/telemetry";
import { createServices, type Services } from "../src/services";
import { bearer } from "./support/auth";
import { REDIS_URL } from "./support/env";
import { cacheDesc, harness, type Harness } from "./support/harness";
import { requester } from "./support/http";
import { eventually } from "./support/pg-lock";
import { startService } from "./support/spawn";

// Two real instances over one Postgres database and one Redis prefix, L1 on in both.
let h: Harness;
let b: { services: Services; request: ReturnType<typeof requester> };
const L1_ENV = { CACHE_L1: "on", CACHE_L1_CLASSES: "profiles:60000,flags:60000" };

beforeAll(async () => {
  h = await harness("l1", { env: L1_ENV });
  const services = await createServices(h.env);
  b = { services, request: requester(createApp(services)) };
  expect(await eventually(() => Boolean(h.services.cache.l1BusConnected && b.services.cache.l1BusConnected))).toBe(true);
});
afterAll(async () => {
  await b?.services.close();
  await h?.close();
});

const nameOf = async (res: Response) => ((await res.json()) as { name: string }).name;
async function newUser(name: string): Promise<number> {
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email: `${name}-${Date.now()}@example.com`, name } });
  return ((await res.json()) as { id: number }).id;
}
/** Reads until this instance answers from its L1. */
const warm = (request: ReturnType<typeof requester>, id: number) =>
  eventually(async () => cacheDesc(await request(`/users/${id}`)) === "l1-hit");

/** The bus connections of this prefix (both instances'), by CLIENT LIST name. */
async function busClientIds(): Promise<string[]> {
  const list = (await h.redis.client("LIST")) as string;
  const name = `l1-bus:${busChannel(h.prefix)}`;
  return list
    .split("\n")
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /^id=(\d+)/.exec(line)![1]!);
}

test("the route table counts an L1 hit as a hit (its hit ratio is of answers from either tier)", async () => {
  const TOKEN = "debug-token-0123456789";
  const m = await harness("l1-routes", { env: { ...L1_ENV, DEBUG_TOKEN: TOKEN } });
  try {
    const created = await m.request("/users", { method: "POST", as: "admin", json: { email: "routes@example.com", name: "R" } });
    const { id } = (await created.json()) as { id: number };
    expect(await eventually(() => Boolean(m.services.cache.l1BusConnected))).toBe(true);
    // Read until this instance answers from its L1, then once more from it.
    const descs: string[] = [];
    while (descs.filter((d) => d === "l1-hit").length < 2 && descs.length < 50) descs.push(cacheDesc(await m.request(`/users/${id}`))!);
    expect(descs[0]).toBe("miss");
    expect(descs.filter((d) => d === "l1-hit").length).toBe(2);
    const res = await m.request("/debug/routes", { headers: { authorization: `Bearer ${TOKEN}` } });
    const row = ((await res.json()) as { routes: { method: string; route: string; cacheHitRatio: number }[] }).routes.find(
      (r) => r.method === "GET" && r.route === "/users/:id",
    )!;
    const hits = descs.filter((d) => d === "hit" || d === "l1-hit").length;
    expect(hits).toBe(descs.length - 1);
    expect(row.cacheHitRatio).toBeCloseTo(hits / descs.length, 3);
  } finally {
    await m.close();
  }
});

describe("L1 across two instances", () => {
  test("an L1 hit says so in Server-Timing and in the metrics' layer label", async () => {
    const id = await newUser("tiers");
    expect(cacheDesc(await b.request(`/users/${id}`))).toBe("miss");
    // The creation's own eviction may still be on its way to B: a read it overlaps stays out of L1.
    expect(await warm(b.request, id)).toBe(true);
    const second = await b.request(`/users/${id}`);
    expect(cacheDesc(second)).toBe("l1-hit");
    expect(await nameOf(second)).toBe("tiers");
    // The other instance has it in Redis, not yet in its own L1.
    expect(cacheDesc(await h.request(`/users/${id}`))).toBe("hit");
    const metrics = await (await b.request("/metrics", { headers: await bearer("admin") })).text();
    expect(metrics).toMatch(/^cache_operations_total\{op="get",result="l1-hit",layer="l1"\} [1-9]/m);
    expect(metrics).toMatch(/^cache_operations_total\{op="get",result="miss",layer="redis"\} 1$/m);
    expect(metrics).toContain("cache_l1_bus_connected 1");
    expect(metrics).toMatch(/^cache_l1_entries [1-9]/m);
  });

  test("a write through one instance evicts the other's L1: once delivered, never the old value again", async () => {
    const id = await newUser("before");
    for (const r of [b.request, h.request]) expect(await warm(r, id)).toBe(true);
    const patched = await h.request(`/users/${id}`, { method: "PATCH", as: id, json: { name: "after" } });
    expect(patched.status).toBe(200);
    // The writer's own L1 is dropped before its response.
    expect(await nameOf(await h.request(`/users/${id}`))).toBe("after");
    expect(await eventually(async () => (await nameOf(await b.request(`/users/${id}`))) === "after")).toBe(true);
    for (let i = 0; i < 20; i++) expect(await nameOf(await b.request(`/users/${id}`))).toBe("after");
  });

  test("a load that read before a write reaches neither tier after it", async () => {
    const id = await newUser("old");
    const key = b.services.keys.user(id);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // B misses and loads the old row, then waits; A's write lands meanwhile.
    const reader = b.services.cache.getOrLoad(key, 300, async () => {
      const row = { id, name: "old" };
      await gate;
      return row;
    }, "profiles");
    await h.request(`/users/${id}`, { method: "PATCH", as: id, json: { name: "new" } });
    release();
    expect(JSON.parse((await reader)!).name).toBe("old"); // that reader began before the write
    expect(await h.redis.get(key)).toBeNull();
    const next = await b.request(`/users/${id}`);
    expect(cacheDesc(next)).toBe("miss");
    expect(await nameOf(next)).toBe("new");
  });

  test("bus connection killed (CLIENT KILL): L1 bypassed and cleared, a write meanwhile is not missed, L1 back once resubscribed", async () => {
    const id = await newUser("pre-kill");
    expect(await warm(b.request, id)).toBe(true);
    const ids = await busClientIds();
    expect(ids.length).toBe(2);
    for (const cid of ids) await h.redis.client("KILL", "ID", cid);
    expect(await eventually(() => b.services.cache.l1BusConnected === false, 200, 1)).toBe(true);
    // The eviction's message is published while nobody listens: B must not serve its L1 copy.
    await h.request(`/users/${id}`, { method: "PATCH", as: id, json: { name: "post-kill" } });
    const during = await b.request(`/users/${id}`);
    expect(cacheDesc(during)).not.toBe("l1-hit");
    expect(await nameOf(during)).toBe("post-kill");
    expect(await eventually(() => b.services.cache.l1BusConnected === true)).toBe(true);
    expect((await busClientIds()).length).toBe(2);
    // Cleared on resubscribe: the first read goes to Redis, then L1 serves again.
    expect(cacheDesc(await b.request(`/users/${id}`))).toBe("hit");
    expect(cacheDesc(await b.request(`/users/${id}`))).toBe("l1-hit");
  });

  test("classes not listed (documents by default here) never enter L1", async () => {
    const id = await newUser("docs");
    const created = await h.request("/documents", { method: "POST", as: id, json: { title: "t" } });
    const doc = (await created.json()) as { id: number };
    const descs: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) descs.push(cacheDesc(await b.request(`/documents/${doc.id}`)));
    expect(descs).toEqual(["miss", "hit", "hit"]);
  });
});

test("a Redis hit read before an eviction whose message arrived first does not enter L1", async () => {
  // The store's reply is held back until the bus delivered the eviction: the order a fast
  // subscriber socket and a slow command socket can produce. Real Redis underneath.
  const prefix = `${h.prefix}:race`; // under the file's prefix: the harness flushes it
  const store = createRedisStore({ url: REDIS_URL, commandTimeoutMs: 1000, connectTimeoutMs: 1000, channel: busChannel(prefix) });
  const bus = createRedisBus(store.client, busChannel(prefix));
  let hold: Promise<void> | undefined;
  let answered = () => {};
  const slow = { ...store, read: async (k: string) => {
    const r = await store.read(k);
    answered();
    await hold;
    return r;
  } };
  const cache = createCacheAside({
    store: slow,
    breaker: createBreaker({ threshold: 5, cooldownMs: 1000 }),
    telemetry: createTelemetry(),
    negativeTtlS: 5,
    jitterPct: 0,
    l1: { ttlMs: { profiles: 60_000 }, maxEntries: 100, bus },
  });
  try {
    expect(await store.ready(2000)).toBe(true);
    expect(await eventually(() => bus.connected)).toBe(true);
    const key = `${prefix}:v3:{user:1}`;
    // In Redis only (no class: not in L1). A fill is skipped while the store announces its first
    // connection (cache-aside's epoch), hence until it is there.
    const filled = async () => (await cache.getOrLoad(key, 300, async () => ({ v: "old" })), (await h.redis.get(key)) !== null);
    expect(await eventually(filled)).toBe(true);
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    const delivered = new Promise<void>((r) => bus.onInvalidate((k) => k === key && r()));
    const read = new Promise<void>((r) => (answered = r));
    const reader = cache.getOrLoad(key, 300, async () => ({ v: "new" }), "profiles");
    await read; // Redis answered "old" (the reply is held back from the cache)
    // Another instance's write: evicted in Redis, announced on the bus.
    await store.evict([key]);
    await delivered;
    release();
    expect(JSON.parse((await reader)!).v).toBe("old");
    hold = undefined;
    const stats = new RequestStats("t");
    const next = await requestStore.run(stats, () => cache.getOrLoad(key, 300, async () => ({ v: "new" }), "profiles"));
    expect(stats.cacheResult).toBe("miss");
    expect(JSON.parse(next!).v).toBe("new");
    expect(JSON.parse(entryJson(await h.redis.get(key))!).v).toBe("new");
  } finally {
    await bus.close();
    await store.close();
  }
});

test("without Redis (the in-process store) CACHE_L1=on changes nothing: no L1, no bus", async () => {
  const m = await harness("l1-memory", { redis: false, env: L1_ENV });
  try {
    expect(m.services.cache.l1BusConnected).toBeUndefined();
    const id = (await (await m.request("/users", { method: "POST", as: "admin", json: { email: "m@example.com", name: "m" } })).json()).id;
    const descs: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) descs.push(cacheDesc(await m.request(`/users/${id}`)));
    expect(descs).toEqual(["miss", "hit", "hit"]);
  } finally {
    await m.close();
  }
});

test("CACHE_L1_CLASSES: class:ttlMs pairs; a bad one names the variable", () => {
  expect(parseEnv({ CACHE_L1_CLASSES: "profiles:500, flags:2000" }).CACHE_L1_CLASSES).toEqual({ profiles: 500, flags: 2000 });
  expect(parseEnv({}).CACHE_L1_CLASSES).toEqual({ profiles: 2000, flags: 2000, user_stats: 1000, global_stats: 1000 });
  expect(() => parseEnv({ CACHE_L1_CLASSES: "sessions:100" })).toThrow(/CACHE_L1_CLASSES/);
  expect(() => parseEnv({ CACHE_L1_CLASSES: "profiles:0" })).toThrow(/CACHE_L1_CLASSES/);
});

test("two spawned processes: a write through one is seen by the other once the bus delivered it", async () => {
  const env = { DATABASE_URL: h.dbUrl, REDIS_URL, REDIS_KEY_PREFIX: h.prefix, LOG_LEVEL: "info", ...L1_ENV };
  const a = await startService(env);
  let c: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    c = await startService(env);
    for (const s of [a, c]) expect(await s.waitFor("cache invalidation bus subscribed")).toBe(true);
    const id = await newUser("spawned");
    const get = async () => {
      const res = await fetch(`${c!.url}/users/${id}`);
      return { desc: cacheDesc(res), name: await nameOf(res) };
    };
    expect(await eventually(async () => (await get()).desc === "l1-hit")).toBe(true);
    expect(await get()).toEqual({ desc: "l1-hit", name: "spawned" });
    const res = await fetch(`${a.url}/users/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", ...(await bearer(id)) },
      body: JSON.stringify({ name: "respawned" }),
    });
    expect(res.status).toBe(200);
    expect(await eventually(async () => (await get()).name === "respawned")).toBe(true);
    for (let i = 0; i < 20; i++) expect((await get()).name).toBe("respawned");
    // Its bus connection killed: the process says so, and again once it has resubscribed.
    for (const cid of await busClientIds()) await h.redis.client("KILL", "ID", cid);
    expect(await c.waitFor("cache invalidation bus disconnected: L1 bypassed and cleared until resubscribed")).toBe(true);
    const subscribed = () => c!.output().split("cache invalidation bus subscribed").length - 1;
    expect(await eventually(() => subscribed() === 2)).toBe(true);
  } finally {
    await c?.stop();
    await a.stop();
  }
});
