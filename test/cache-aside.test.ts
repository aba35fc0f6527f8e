import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { createBreaker } from "../src/cache/breaker";
import { createCacheAside, entryJson } from "../src/cache/cache-aside";
import { cacheKeys } from "../src/cache/keys";
import { createRedisStore } from "../src/cache/redis-store";
import { createMemoryStore, type CacheStore } from "../src/cache/store";
import { RequestStats, requestStore } from "../src/context/request";
import { createTelemetry } from "../src/context/telemetry";
import { flushPrefix } from "./support/harness";
import { REDIS_URL } from "./support/env";

const PREFIX = "hpt-cache-aside";
const keys = cacheKeys(PREFIX);
let admin: Redis;
const stores: CacheStore[] = [];

function makeCache(store: CacheStore, breaker = createBreaker({ threshold: 3, cooldownMs: 60_000 })) {
  stores.push(store);
  return createCacheAside({ store, breaker, telemetry: createTelemetry(), negativeTtlS: 5, jitterPct: 10 });
}
const redisStore = () => createRedisStore({ url: REDIS_URL, commandTimeoutMs: 200, connectTimeoutMs: 500 });
const deferred = <T>() => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};
/** Run fn inside a request context and return what the cache recorded for that request. */
async function inRequest<T>(fn: () => Promise<T>): Promise<{ value: T; stats: RequestStats }> {
  const stats = new RequestStats("t");
  const value = await requestStore.run(stats, fn);
  return { value, stats };
}

beforeAll(async () => {
  admin = new Redis(REDIS_URL);
  await flushPrefix(admin, PREFIX);
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await flushPrefix(admin, PREFIX);
  admin.disconnect();
});

for (const kind of ["redis", "memory"] as const) {
  describe(`cache-aside over ${kind}`, () => {
    const store = () => (kind === "redis" ? redisStore() : createMemoryStore(1000));
    const makeReady = async () => {
      const s = store();
      expect(await s.ready(2000)).toBe(true);
      return makeCache(s);
    };

    test("miss → load → store with TTL (+jitter) → hit", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 1 : 101);
      let loads = 0;
      const loader = async () => ({ id: 1, n: ++loads });
      const a = await inRequest(() => cache.getOrLoad(key, 100, loader));
      expect(a.stats.cacheResult).toBe("miss");
      expect(JSON.parse(a.value!)).toEqual({ id: 1, n: 1 });
      const b = await inRequest(() => cache.getOrLoad(key, 100, loader));
      expect(b.stats.cacheResult).toBe("hit");
      expect(b.value).toBe(a.value);
      expect(loads).toBe(1);
      if (kind === "redis") {
        const ttl = await admin.pttl(key);
        expect(ttl).toBeGreaterThan(99_000 - 1000);
        expect(ttl).toBeLessThanOrEqual(110_000);
      }
    });

    test("negative results are cached with the short TTL", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 2 : 102);
      let loads = 0;
      expect(await cache.getOrLoad(key, 100, async () => (loads++, null))).toBeNull();
      expect(await cache.getOrLoad(key, 100, async () => (loads++, null))).toBeNull();
      expect(loads).toBe(1);
      if (kind === "redis") expect(await admin.pttl(key)).toBeLessThanOrEqual(5_500);
    });

    test("single-flight: concurrent misses for one key cause one load", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 3 : 103);
      const gate = deferred<void>();
      let loads = 0;
      const loader = async () => {
        loads++;
        await gate.promise;
        return { id: 3 };
      };
      const all = Array.from({ length: 20 }, () => cache.getOrLoad(key, 100, loader));
      await Bun.sleep(20);
      gate.resolve();
      const values = await Promise.all(all);
      expect(loads).toBe(1);
      expect(new Set(values)).toEqual(new Set([JSON.stringify({ id: 3 })]));
    });

    test("race: a load that read pre-write data cannot refill after the write evicted", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 4 : 104);
      let row = { id: 4, name: "old" };
      const loaded = deferred<void>();
      const release = deferred<void>();
      // Reader: misses, loads the OLD row, then stalls before filling the cache.
      const reader = cache.getOrLoad(key, 100, async () => {
        const snapshot = { ...row };
        loaded.resolve();
        await release.promise;
        return snapshot;
      });
      await loaded.promise;
      // Writer: updates the row and evicts while the reader is stalled.
      row = { id: 4, name: "new" };
      await cache.evict(key);
      release.resolve();
      expect(JSON.parse((await reader)!).name).toBe("old"); // the reader itself saw the old row...
      // ...but the cache must not hold it: the next read loads the new row.
      let loads = 0;
      const next = await cache.getOrLoad(key, 100, async () => (loads++, { ...row }));
      expect(loads).toBe(1);
      expect(JSON.parse(next!).name).toBe("new");
      if (kind === "redis") expect(JSON.parse(entryJson(await admin.get(key))!).name).toBe("new");
    });

    test("a read after an eviction does not join a load that started before it", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 5 : 105);
      const release = deferred<void>();
      const old = cache.getOrLoad(key, 100, async () => (await release.promise, { v: "old" }));
      await Bun.sleep(5);
      await cache.evict(key);
      const fresh = await cache.getOrLoad(key, 100, async () => ({ v: "new" }));
      release.resolve();
      await old;
      expect(JSON.parse(fresh!).v).toBe("new");
    });

    test("…nor one whose cache read was still out when the eviction ran", async () => {
      const cache = await makeReady();
      const key = keys.user(kind === "redis" ? 7 : 107);
      const release = deferred<void>();
      const old = cache.getOrLoad(key, 100, async () => (await release.promise, { v: "old" }));
      // evict() starts synchronously: the read above has not come back yet.
      await cache.evict(key);
      // Not joining, this read runs its own loader, which lets the old load finish.
      const fresh = cache.getOrLoad(key, 100, async () => (release.resolve(), { v: "new" }));
      // Joining, nothing would release the old load: release it anyway, so a failure is a wrong
      // value rather than a hang.
      const fallback = setTimeout(() => release.resolve(), 2000);
      try {
        expect(JSON.parse((await fresh)!).v).toBe("new");
      } finally {
        clearTimeout(fallback);
        await old;
      }
    });
  });
}

describe("fail-open", () => {
  test("Redis on a dead port: served by the loader, marked error then bypass once the breaker opens", async () => {
    const store = createRedisStore({ url: "redis://127.0.0.1:1", commandTimeoutMs: 50, connectTimeoutMs: 100 });
    const cache = makeCache(store, createBreaker({ threshold: 2, cooldownMs: 60_000 }));
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await inRequest(() => cache.getOrLoad(keys.user(6), 100, async () => ({ id: 6 })));
      expect(JSON.parse(r.value!)).toEqual({ id: 6 });
      results.push(r.stats.cacheResult!);
    }
    expect(results.slice(0, 2)).toEqual(["error", "error"]);
    expect(results.slice(2)).toEqual(["bypass", "bypass"]);
    // Evictions never throw either.
    await cache.evict(keys.user(6));
  });

  test("breaker half-opens after the cooldown and closes on success", () => {
    let now = 0;
    const b = createBreaker({ threshold: 2, cooldownMs: 1000, now: () => now });
    b.failure();
    b.failure();
    expect(b.state).toBe("open");
    expect(b.allow()).toBe(false);
    now = 1500;
    expect(b.allow()).toBe(true); // one probe
    expect(b.allow()).toBe(false); // not two at once
    b.success();
    expect(b.state).toBe("closed");
  });
});
