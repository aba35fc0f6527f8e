import { afterAll, beforeAll, expect, test } from "bun:test";
import { createBreaker } from "../src/cache/breaker";
import { busChannel, createRedisBus } from "../src/cache/bus";
import { createCacheAside } from "../src/cache/cache-aside";
import { cacheKeys } from "../src/cache/keys";
import { createRedisStore } from "../src/cache/redis-store";
import { createTelemetry } from "../src/context/telemetry";
import { startRedisCluster } from "./support/redis-cluster";

// Past one machine the cache runs on Redis Cluster: MGET of an entry with its generation counter
// and the compare-and-set scripts are legal only because both keys share a hash tag.
let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
let store: ReturnType<typeof createRedisStore>;

beforeAll(async () => {
  cluster = await startRedisCluster();
  store = createRedisStore({ clusterNodes: cluster.nodes, commandTimeoutMs: 500, connectTimeoutMs: 2000, channel: busChannel("hpt-cluster") });
  expect(await store.ready(5000)).toBe(true);
}, 30_000);
afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

test("cache-aside works across the slots of a 3-node cluster", async () => {
  expect(store.kind).toBe("redis-cluster");
  const cache = createCacheAside({
    store,
    breaker: createBreaker({ threshold: 3, cooldownMs: 1000 }),
    telemetry: createTelemetry(),
    negativeTtlS: 5,
    jitterPct: 0,
  });
  const keys = cacheKeys("hpt-cluster");
  let loads = 0;
  // Enough ids to land on every node; each: miss → fill, then hit, then evict → miss again.
  for (let id = 1; id <= 30; id++) {
    const key = keys.user(id);
    expect(await cache.getOrLoad(key, 60, async () => (loads++, { id }))).toBe(JSON.stringify({ id }));
    expect(await cache.getOrLoad(key, 60, async () => (loads++, { id }))).toBe(JSON.stringify({ id }));
    await cache.evict(key, keys.userStats(id));
    expect(await cache.getOrLoad(key, 60, async () => (loads++, { id, v: 2 }))).toBe(JSON.stringify({ id, v: 2 }));
  }
  expect(loads).toBe(60);
  expect(cache.breaker.state).toBe("closed");
}, 30_000);

test("the L1 invalidation bus: an eviction on any node's slot reaches a subscriber on the cluster", async () => {
  const bus = createRedisBus(store.client, busChannel("hpt-cluster"));
  try {
    const deadline = Date.now() + 10_000;
    while (!bus.connected && Date.now() < deadline) await Bun.sleep(20);
    expect(bus.connected).toBe(true);
    const keys = cacheKeys("hpt-cluster");
    const want = Array.from({ length: 30 }, (_, i) => keys.user(1000 + i));
    const got = new Set<string>();
    // Only these keys: the previous test's evictions, published on other nodes, may still be
    // crossing the cluster bus when this subscriber starts.
    const wanted = new Set(want);
    const all = new Promise<void>((resolve) =>
      bus.onInvalidate((k) => {
        if (wanted.has(k)) got.add(k);
        if (got.size === want.length) resolve();
      }),
    );
    // Entries spread over the three masters: the script publishes on whichever node runs it.
    for (const key of want) await store.evict([key]);
    await all;
    expect([...got].sort()).toEqual([...want].sort());
  } finally {
    await bus.close();
  }
}, 30_000);
