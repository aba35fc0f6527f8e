import { entryJson } from "../src/cache/cache-aside";
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { createApp } from "../src/app";
import { KEY_VERSION } from "../src/cache/keys";
import { createServices } from "../src/services";
import { freshDatabase, testEnv } from "./support/env";
import { cacheDesc, harness, type Harness } from "./support/harness";
import { requester } from "./support/http";
import { startRedis } from "./support/redis-server";
import { startService } from "./support/spawn";
import { tokenFor } from "./support/auth";

const ADMIN_JSON = { "content-type": "application/json", authorization: `Bearer ${await tokenFor("admin")}` };

// Issue 8, item 1: an eviction that could not reach Redis — breaker open included — is replayed
// before the next read is served from Redis, across a pause (SIGSTOP/SIGCONT) and a restart that
// keeps data (SAVE, kill -9, restart from the dump). And an instance that dies holding such
// evictions: the next instance clamps cached TTLs (CACHE_RECOVERY_TTL_S).
let redis: Awaited<ReturnType<typeof startRedis>>;
let h: Harness;

beforeAll(async () => {
  redis = await startRedis();
  h = await harness("cache_faults", {
    redis: redis.url,
    env: { REDIS_COMMAND_TIMEOUT_MS: "100", CACHE_BREAKER_THRESHOLD: "2", CACHE_BREAKER_COOLDOWN_MS: "200" },
  });
});
afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

async function newUser(name: string): Promise<number> {
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email: `${name}-${crypto.randomUUID()}@example.com`, name } });
  expect(res.status).toBe(201);
  return (await res.json()).id;
}

/** Reads with Redis unreachable until the breaker opens (its answer becomes "bypass"). */
async function openBreaker(id: number) {
  let desc: string | undefined;
  for (let i = 0; i < 20 && desc !== "bypass"; i++) desc = cacheDesc(await h.request(`/users/${id}`));
  expect(desc).toBe("bypass");
}

/** The first read answered from Redis again (not bypass/error) once the breaker lets it through. */
async function firstReadFromRedis(id: number) {
  for (let i = 0; i < 100; i++) {
    const res = await h.request(`/users/${id}`);
    expect(res.status).toBe(200);
    const desc = cacheDesc(res);
    if (desc === "hit" || desc === "miss") return { desc, name: (await res.json()).name as string };
    await Bun.sleep(50);
  }
  throw new Error("the cache never came back");
}

test("paused Redis (SIGSTOP), breaker open: the PATCH's eviction is replayed before the next read from Redis", async () => {
  const id = await newUser("before");
  expect(cacheDesc(await h.request(`/users/${id}`))).toBe("miss");
  expect(cacheDesc(await h.request(`/users/${id}`))).toBe("hit");
  redis.pause();
  try {
    await openBreaker(id);
    const patch = await h.request(`/users/${id}`, { method: "PATCH", as: "admin", json: { name: "after" } });
    expect(patch.status).toBe(200);
    expect(cacheDesc(patch)).toBe("bypass"); // never sent to Redis
  } finally {
    redis.resume();
  }
  // Redis still holds the pre-write profile…
  const direct = new Redis(redis.url);
  expect(JSON.parse(entryJson(await direct.get(h.services.keys.user(id)))!).name).toBe("before");
  direct.disconnect();
  // …but the first read that goes to Redis again replays the eviction first.
  const first = await firstReadFromRedis(id);
  expect(first).toEqual({ desc: "miss", name: "after" });
  expect((await firstReadFromRedis(id)).desc).toBe("hit");
});

test("Redis restarted from its dump (SAVE, kill -9, restart): evictions missed while it was down are replayed", async () => {
  const id = await newUser("saved");
  const other = await newUser("untouched");
  expect(cacheDesc(await h.request(`/users/${id}`))).toBe("miss");
  expect(cacheDesc(await h.request(`/users/${other}`))).toBe("miss");
  await redis.save(); // the snapshot holds the cached "saved" profile
  await redis.kill();
  await openBreaker(id);
  const patch = await h.request(`/users/${id}`, { method: "PATCH", as: "admin", json: { name: "renamed" } });
  expect(patch.status).toBe(200);
  expect(cacheDesc(patch)).toBe("bypass");
  await redis.start(); // same port, same dir: the old profile is back in Redis
  const direct = new Redis(redis.url);
  expect(JSON.parse(entryJson(await direct.get(h.services.keys.user(id)))!).name).toBe("saved");
  direct.disconnect();
  const first = await firstReadFromRedis(id);
  expect(first).toEqual({ desc: "miss", name: "renamed" });
  expect((await firstReadFromRedis(id)).desc).toBe("hit");
  // Redis' run_id changed: every entry restored from the snapshot now lives at most
  // CACHE_RECOVERY_TTL_S (5 s by default) instead of its 300 s.
  const admin = new Redis(redis.url);
  try {
    let ttl = await admin.pttl(h.services.keys.user(other));
    for (let i = 0; i < 100 && ttl > 5000; i++) {
      await Bun.sleep(20);
      ttl = await admin.pttl(h.services.keys.user(other));
    }
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  } finally {
    admin.disconnect();
  }
});

test("graceful shutdown delivers the evictions still pending, past the open breaker", async () => {
  const { url: dbUrl } = await freshDatabase("cache_faults_flush");
  const prefix = "hpt-cache-faults-flush";
  const svc = await startService({
    DATABASE_URL: dbUrl, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: "info", SHUTDOWN_DRAIN_S: "0",
    REDIS_COMMAND_TIMEOUT_MS: "100", CACHE_BREAKER_THRESHOLD: "2", CACHE_BREAKER_COOLDOWN_MS: "60000",
  });
  const direct = new Redis(redis.url);
  try {
    const json = ADMIN_JSON;
    const created = await fetch(`${svc.url}/users`, { method: "POST", headers: json, body: JSON.stringify({ email: "flush@example.com", name: "old" }) });
    const id = ((await created.json()) as { id: number }).id;
    await fetch(`${svc.url}/users/${id}`);
    const key = `${prefix}:${KEY_VERSION}:{user:${id}}`;
    expect(await direct.exists(key)).toBe(1);
    redis.pause();
    try {
      let timing = "";
      for (let i = 0; i < 20 && !timing.includes("bypass"); i++) timing = (await fetch(`${svc.url}/users/${id}`)).headers.get("server-timing") ?? "";
      const patch = await fetch(`${svc.url}/users/${id}`, { method: "PATCH", headers: json, body: JSON.stringify({ name: "new" }) });
      expect(patch.headers.get("server-timing")).toContain('desc="bypass"');
    } finally {
      redis.resume();
    }
    // No read comes after: only the shutdown can deliver the eviction (the breaker stays open 60 s).
    expect(await direct.exists(key)).toBe(1);
    expect(await svc.stop("SIGTERM")).toBe(0);
    expect(await direct.exists(key)).toBe(0);
    expect(svc.output()).not.toContain("cache evictions not delivered at shutdown");
  } finally {
    direct.disconnect();
    svc.proc.kill("SIGKILL");
  }
}, 60_000);

test("an instance killed while holding an undelivered eviction: the next instance bounds the stale entry's TTL", async () => {
  const { url: dbUrl } = await freshDatabase("cache_faults_restart");
  const prefix = "hpt-cache-faults-restart";
  const common = { DATABASE_URL: dbUrl, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, CACHE_RECOVERY_TTL_S: "1" };
  // Instance A: a real process, killed with SIGKILL (no shutdown, its pending eviction is lost).
  const a = await startService({ ...common, LOG_LEVEL: "info", REDIS_COMMAND_TIMEOUT_MS: "100", CACHE_BREAKER_THRESHOLD: "2", CACHE_BREAKER_COOLDOWN_MS: "60000" });
  let b: Awaited<ReturnType<typeof createServices>> | undefined;
  try {
    const created = await fetch(`${a.url}/users`, {
      method: "POST",
      headers: ADMIN_JSON,
      body: JSON.stringify({ email: "crash@example.com", name: "old" }),
    });
    const id = ((await created.json()) as { id: number }).id;
    await fetch(`${a.url}/users/${id}`); // cached: "old", TTL 300 s
    redis.pause();
    try {
      let desc = "";
      for (let i = 0; i < 20 && !desc.includes("bypass"); i++) desc = (await fetch(`${a.url}/users/${id}`)).headers.get("server-timing") ?? "";
      expect(desc).toContain('desc="bypass"');
      const patch = await fetch(`${a.url}/users/${id}`, { method: "PATCH", headers: ADMIN_JSON, body: JSON.stringify({ name: "new" }) });
      expect(patch.status).toBe(200);
      a.proc.kill("SIGKILL");
      await a.proc.exited;
    } finally {
      redis.resume();
    }
    const direct = new Redis(redis.url);
    try {
      const key = `${prefix}:${KEY_VERSION}:{user:${id}}`;
      expect(JSON.parse(entryJson(await direct.get(key))!).name).toBe("old");
      expect(await direct.pttl(key)).toBeGreaterThan(60_000);
      // Instance B starts: its recovery clamps every cached entry to at most CACHE_RECOVERY_TTL_S.
      b = await createServices(testEnv(common), { migrate: false });
      const ttl = await direct.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1000);
      // Generation counters are not clamped: they guard fills against stale loads for an hour.
      // (the POST that created the user evicted a cached 404, so the counter exists).
      expect(await direct.pttl(`${key}:gen`)).toBeGreaterThan(60_000);
      await Bun.sleep(ttl + 50);
      const res = await requester(createApp(b))(`/users/${id}`);
      expect((await res.json()).name).toBe("new");
    } finally {
      direct.disconnect();
    }
  } finally {
    a.proc.kill("SIGKILL");
    await b?.close();
  }
}, 60_000);
