import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { createApp } from "../src/app";
import { createBreaker } from "../src/cache/breaker";
import { createCacheAside } from "../src/cache/cache-aside";
import { flushPrefix } from "../src/cache/flush";
import { createRedisStore } from "../src/cache/redis-store";
import { RequestStats, requestStore } from "../src/context/request";
import { createTelemetry } from "../src/context/telemetry";
import { createServices, type Services } from "../src/services";
import { REDIS_URL, testEnv } from "./support/env";
import { cacheDesc } from "./support/harness";
import { requester } from "./support/http";
import { startPostgres } from "./support/own-postgres";
import { eventually } from "./support/pg-lock";

const PREFIX = "hpt-grace";
let admin: Redis;
beforeAll(async () => {
  admin = new Redis(REDIS_URL);
  await flushPrefix(admin, PREFIX);
});
afterAll(async () => {
  await flushPrefix(admin, PREFIX);
  admin.disconnect();
});

async function inRequest<T>(fn: () => Promise<T>) {
  const stats = new RequestStats("t");
  const value = await requestStore.run(stats, fn);
  return { value, stats };
}

test("past its TTL an entry is served stale while one background refresh per key runs", async () => {
  const store = createRedisStore({ url: REDIS_URL, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
  const cache = createCacheAside({
    store,
    breaker: createBreaker({ threshold: 5, cooldownMs: 1000 }),
    telemetry: createTelemetry(),
    negativeTtlS: 5,
    jitterPct: 0,
    graceS: 60,
  });
  try {
    expect(await store.ready(2000)).toBe(true);
    const key = `${PREFIX}:v3:{swr}`;
    let version = 0;
    let loads = 0;
    const loader = async () => {
      loads++;
      await Bun.sleep(50);
      return { version };
    };
    expect(await eventually(async () => (await inRequest(() => cache.getOrLoad(key, 1, loader))).stats.cacheResult === "hit")).toBe(true);
    // Stored for TTL + grace, so Redis keeps it past the TTL.
    expect(await admin.pttl(key)).toBeGreaterThan(1000);
    version = 1;
    loads = 0;
    expect(await eventually(async () => (await inRequest(() => cache.getOrLoad(key, 1, loader))).stats.cacheResult === "stale")).toBe(true);
    // Concurrent readers past the TTL: all answered at once with the old value, one refresh.
    const many = await Promise.all(Array.from({ length: 5 }, () => inRequest(() => cache.getOrLoad(key, 1, loader))));
    for (const r of many) expect(JSON.parse(r.value!).version).toBe(0);
    expect(await eventually(async () => JSON.parse((await cache.getOrLoad(key, 1, loader))!).version === 1)).toBe(true);
    expect(loads).toBe(1);
  } finally {
    await store.close();
  }
});

test("INSTRUMENTATION=off (no telemetry): a stale read still marks the response stale, and nothing is timed", async () => {
  const store = createRedisStore({ url: REDIS_URL, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
  const cache = createCacheAside({
    store,
    breaker: createBreaker({ threshold: 5, cooldownMs: 1000 }),
    telemetry: undefined,
    negativeTtlS: 5,
    jitterPct: 0,
    graceS: 60,
  });
  try {
    expect(await store.ready(2000)).toBe(true);
    const key = `${PREFIX}:v3:{swr-off}`;
    const loader = async () => ({ v: 1 });
    await inRequest(() => cache.getOrLoad(key, 1, loader));
    // Past the 1 s TTL: served stale. X-Cache: stale needs the mark; Server-Timing (off) needs nothing.
    expect(await eventually(async () => (await inRequest(() => cache.getOrLoad(key, 1, loader))).stats.stale)).toBe(true);
    const { stats } = await inRequest(() => cache.getOrLoad(key, 1, loader));
    expect([stats.cacheMs, stats.cacheResult]).toEqual([0, undefined]);
  } finally {
    await store.close();
  }
});

test("Postgres stopped: cached endpoints answer 200 stale inside the grace window, uncached ones 503, 503 past it, all recover when it is back", async () => {
  const pg = await startPostgres();
  let services: Services | undefined;
  try {
    const env = testEnv({
      DATABASE_URL: pg.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      CACHE_TTL_USER_S: "1",
      CACHE_TTL_FLAGS_S: "1",
      CACHE_TTL_JITTER_PCT: "0",
      CACHE_GRACE_S: "2",
      DB_CONNECT_TIMEOUT_S: "1",
      SHUTDOWN_TIMEOUT_S: "1",
    });
    services = await createServices(env);
    const request = requester(createApp(services));
    const created = await request("/users", { method: "POST", as: "admin", json: { email: "grace@example.com", name: "Grace" } });
    const { id } = (await created.json()) as { id: number };
    expect(await eventually(async () => cacheDesc(await request(`/users/${id}`)) === "hit")).toBe(true);
    expect(await eventually(async () => cacheDesc(await request("/flags")) === "hit")).toBe(true);

    await pg.stop();
    expect((await request("/users/me", { as: id })).status).toBe(503);
    // Past the 1 s TTL: the cached value, marked, instead of an error (stale reads never wait on
    // Postgres; one background refresh per key tries it).
    let stale: Response | undefined;
    expect(
      await eventually(async () => {
        const res = await request(`/users/${id}`);
        if (cacheDesc(res) === "stale") stale = res;
        return stale !== undefined;
      }),
    ).toBe(true);
    expect(stale!.status).toBe(200);
    expect(stale!.headers.get("x-cache")).toBe("stale");
    expect(((await stale!.json()) as { name: string }).name).toBe("Grace");
    let flags: Response | undefined;
    expect(await eventually(async () => cacheDesc((flags = await request("/flags"))) === "stale")).toBe(true);
    expect({ status: flags!.status, header: flags!.headers.get("x-cache") }).toEqual({ status: 200, header: "stale" });
    // Past TTL + grace Redis has dropped it (watched in Redis: requests would only add reconnect
    // attempts, and postgres.js backs off longer after each), then: the usual 503.
    expect(await eventually(async () => (await admin.exists(services!.keys.user(id))) === 0, 400, 25)).toBe(true);
    expect((await request(`/users/${id}`)).status).toBe(503);

    await pg.start();
    expect(await eventually(async () => (await request(`/users/${id}`)).status === 200, 2000, 25)).toBe(true);
    const fresh = await request(`/users/${id}`);
    expect(fresh.headers.get("x-cache")).toBeNull();
    expect(cacheDesc(fresh)).toBe("hit");
    expect((await request("/users/me", { as: id })).status).toBe(200);
  } finally {
    await services?.close();
    await pg.close();
  }
}, 120_000);
