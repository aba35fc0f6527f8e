import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { cacheDesc, harness, queryCount, type Harness } from "./support/harness";
import { startRedis } from "./support/redis-server";

// A Redis of this file's own that the test pauses, kills and restarts under a running app.
let redis: Awaited<ReturnType<typeof startRedis>>;
let h: Harness;
let userId: number;

beforeAll(async () => {
  redis = await startRedis();
  h = await harness("fail_open", {
    redis: redis.url,
    env: { REDIS_COMMAND_TIMEOUT_MS: "100", CACHE_BREAKER_THRESHOLD: "2", CACHE_BREAKER_COOLDOWN_MS: "300" },
  });
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email: "f@example.com", name: "before" } });
  userId = (await res.json()).id;
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

const read = () => h.request(`/users/${userId}`);

test("healthy: miss then hit", async () => {
  expect(cacheDesc(await read())).toBe("miss");
  expect(cacheDesc(await read())).toBe("hit");
});

test("slow Redis (paused): requests are served from Postgres; the eviction missed meanwhile is replayed", async () => {
  const admin = new Redis(redis.url);
  await admin.client("PAUSE", 1200, "ALL");
  const slow = await read();
  expect(slow.status).toBe(200);
  expect(cacheDesc(slow)).toBe("error");
  expect(queryCount(slow)).toBe(1);
  // A write while Redis cannot take the eviction.
  const patch = await h.request(`/users/${userId}`, { method: "PATCH", as: "admin", json: { name: "during" } });
  expect(patch.status).toBe(200);
  // The breaker is open now: no more waiting on Redis at all.
  const bypass = await read();
  expect(cacheDesc(bypass)).toBe("bypass");
  expect((await bypass.json()).name).toBe("during");
  await Bun.sleep(1500); // pause over, breaker cooled down
  const after = await read();
  expect(after.status).toBe(200);
  // Not the pre-write value that was still in Redis: the failed eviction was replayed first.
  expect((await after.json()).name).toBe("during");
  expect(cacheDesc(after)).toBe("miss");
  admin.disconnect();
});

test("Redis killed mid-test: still 200 from Postgres, then the cache comes back", async () => {
  await redis.kill();
  for (let i = 0; i < 4; i++) {
    const res = await read();
    expect(res.status).toBe(200);
    expect(["error", "bypass"]).toContain(cacheDesc(res)!);
    expect((await res.json()).name).toBe("during");
  }
  const ready = await h.request("/readyz");
  expect(ready.status).toBe(503);
  expect((await ready.json()).error.details.cache).toBe("unreachable");
  await redis.start();
  let desc: string | undefined;
  for (let i = 0; i < 50 && desc !== "hit"; i++) {
    await Bun.sleep(100);
    desc = cacheDesc(await read());
  }
  expect(desc).toBe("hit");
  expect((await h.request("/readyz")).status).toBe(200);
});
