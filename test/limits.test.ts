import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import postgres from "postgres";
import { createApp } from "../src/app";
import { createServices, type Services } from "../src/services";
import { bearer } from "./support/auth";
import { cacheDesc, harness, type Harness } from "./support/harness";
import { expectError, requester } from "./support/http";
import { startRedis } from "./support/redis-server";

// Abuse limits on the real Redis: per-subject writes and per-address failed authentications,
// shared by every instance on that Redis; Redis down → no limit, counted in /metrics.

const limits = {
  RATE_LIMIT_WRITES: "3",
  RATE_LIMIT_WRITES_WINDOW_S: "60",
  RATE_LIMIT_AUTH_FAILURES: "3",
  RATE_LIMIT_AUTH_FAILURES_WINDOW_S: "60",
  // A live Redis that is merely slow on this shared machine must not fail open mid-test (a 100 ms
  // timeout could); a dead one fails at once whatever the timeout.
  REDIS_COMMAND_TIMEOUT_MS: "5000",
};
const count = async (dbUrl: string) => {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    return Number((await sql`select count(*)::int as n from documents`)[0]!.n);
  } finally {
    await sql.end();
  }
};

describe("with Redis", () => {
  let h: Harness;
  let second: Services;
  let other: ReturnType<typeof requester>;
  let user: number;
  beforeAll(async () => {
    h = await harness("limits", { env: limits });
    // A second instance over the same database and Redis prefix: the limits must be shared.
    second = await createServices(h.env);
    other = requester(createApp(second));
    user = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "l@example.com", name: "L" } })).json()).id;
  });
  afterAll(async () => {
    await second.close();
    await h.close();
  });

  test("writes per subject: the 4th in the window is 429 with Retry-After, across instances, and changes nothing", async () => {
    const post = (r: typeof h.request) => r("/documents", { method: "POST", as: user, json: { title: "t" } });
    expect((await post(h.request)).status).toBe(201);
    expect((await post(other)).status).toBe(201);
    expect((await post(h.request)).status).toBe(201);
    const before = await count(h.dbUrl);
    for (const r of [other, h.request]) {
      const res = await post(r);
      const retry = Number(res.headers.get("retry-after"));
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await expectError(res, 429, "rate_limited");
      expect(body.error.message).toContain("too many writes");
    }
    expect(await count(h.dbUrl)).toBe(before);
    // The counter is in Redis, under the service's prefix.
    expect(Number(await h.redis.get(`${h.prefix}:rl:writes:${user}`))).toBeGreaterThanOrEqual(4);
    // Another subject has its own budget; reads are never limited.
    const another = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "m@example.com", name: "M" } })).json()).id;
    expect((await h.request("/documents", { method: "POST", as: another, json: { title: "x" } })).status).toBe(201);
    expect((await h.request(`/users/${user}`)).status).toBe(200);
  });

  test("failed authentications per address: after 3 refused tokens even a valid one is 429 (guessing learns nothing)", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: h.app.fetch });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const put = (authorization: string) =>
        fetch(`${url}/flags/guarded`, { method: "PUT", headers: { "content-type": "application/json", authorization }, body: '{"enabled":true}' });
      for (let i = 0; i < 3; i++) expect((await put("Bearer wrong.token.here")).status).toBe(401);
      const blocked = await put((await bearer("admin")).authorization!);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const body = (await blocked.json()) as { error: { code: string } };
      expect(body.error.code).toBe("rate_limited");
      expect((await fetch(`${url}/flags/guarded`)).status).toBe(404);
      // Counted per client address (the TCP peer), in Redis.
      expect(Number(await h.redis.get(`${h.prefix}:rl:auth_failures:127.0.0.1`))).toBe(3);
      // A missing token is not a guess: it does not count.
      expect((await h.request("/flags/other", { method: "PUT", json: { enabled: true } })).status).toBe(401);
      expect(await h.redis.get(`${h.prefix}:rl:auth_failures:unknown`)).toBeNull();
    } finally {
      server.stop(true);
    }
  });
});

test("without REDIS_URL the in-memory limiter applies the same limit", async () => {
  const h = await harness("limits_memory", { redis: false, env: limits });
  try {
    const res = [];
    for (let i = 0; i < 4; i++) res.push((await h.request("/flags/m", { method: "PUT", as: "admin", json: { enabled: i % 2 === 0 } })).status);
    expect(res).toEqual([201, 200, 200, 429]);
  } finally {
    await h.close();
  }
});

test("Redis down: no limit (fail open), counted in rate_limit_fail_open_total", async () => {
  const redis = await startRedis();
  const h = await harness("limits_down", { redis: redis.url, env: limits });
  try {
    const put = () => h.request("/flags/d", { method: "PUT", as: "admin", json: { enabled: true } });
    for (let i = 0; i < 3; i++) expect((await put()).status).toBeOneOf([200, 201]);
    expect((await put()).status).toBe(429); // the limit holds while Redis is up
    await redis.kill();
    for (let i = 0; i < 5; i++) expect((await put()).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await h.request("/flags/d", { method: "PUT", json: { enabled: true }, headers: { authorization: "Bearer bad" } })).status).toBe(401);
    const metrics = await (await h.request("/metrics", { as: "admin" })).text();
    const value = (limiter: string) => Number(new RegExp(`rate_limit_fail_open_total\\{limiter="${limiter}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(value("writes")).toBeGreaterThanOrEqual(5);
    expect(value("auth_failures")).toBeGreaterThanOrEqual(5);
  } finally {
    await h.close();
    await redis.kill();
  }
});

test("Redis paused: with the breaker open the limits send no command and fail open at once; after resume and cooldown they hold again", async () => {
  const redis = await startRedis();
  const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  direct.on("error", () => {});
  let h: Harness | undefined;
  try {
    // Threshold 2: the first write under the pause fails both its checks (auth failures, writes).
    // A long command timeout so a live but loaded Redis answers; nothing below depends on timing.
    h = await harness("limits_breaker", {
      redis: redis.url,
      env: { ...limits, REDIS_COMMAND_TIMEOUT_MS: "1000", CACHE_BREAKER_THRESHOLD: "2", CACHE_BREAKER_COOLDOWN_MS: "1000" },
    });
    const app = h;
    let writes = 0;
    const put = () => (writes++, app.request("/flags/b", { method: "PUT", as: "admin", json: { enabled: true } }));
    const failOpen = async () => {
      const metrics = await (await app.request("/metrics", { as: "admin" })).text();
      const value = (name: string, limiter: string) => Number(new RegExp(`${name}\\{limiter="${limiter}"\\} (\\d+)`).exec(metrics)?.[1]);
      return {
        writes: value("rate_limit_fail_open_total", "writes"),
        writesBreaker: value("rate_limit_fail_open_breaker_total", "writes"),
        authBreaker: value("rate_limit_fail_open_breaker_total", "auth_failures"),
      };
    };
    for (let i = 0; i < 3; i++) expect((await put()).status).toBeOneOf([200, 201]); // the budget, used up

    redis.pause();
    const first = await put();
    expect(first.status).toBe(200); // unlimited, not 429: the checks failed open
    // Its two limit checks timed out and, counted by the cache's breaker (threshold 2), opened it:
    // the write's cache eviction after them was not even sent.
    expect(cacheDesc(first)).toBe("bypass");
    let seen = await failOpen();
    for (let i = 0; i < 5 && !(seen.writesBreaker > 0); i++) {
      expect((await put()).status).toBe(200); // unlimited, not 429: the checks failed open
      seen = await failOpen();
    }
    // Skipped by the open breaker: the write's checks never went to Redis.
    expect(seen.writesBreaker).toBeGreaterThanOrEqual(1);
    expect(seen.authBreaker).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) expect((await put()).status).toBe(200);

    redis.resume();
    // Bypassed until the cooldown is over, then the limit holds again: the budget was used up.
    let status = 0;
    for (let i = 0; i < 100 && status !== 429; i++) {
      status = (await put()).status;
      expect(status).toBeOneOf([200, 429]);
      if (status !== 429) await Bun.sleep(50);
    }
    expect(status).toBe(429);

    // Redis' own count of the write checks it received (timed-out ones ran after SIGCONT, before
    // the 429's, which came on the same connection): the 3 before the pause, the ones that failed
    // on a command and the 429 — none of those the breaker skipped.
    const end = await failOpen();
    await direct.connect();
    const [key, ...others] = await direct.keys(`${app.prefix}:rl:writes:*`);
    expect(others).toEqual([]);
    const received = Number(await direct.get(key!));
    expect(received).toBe(3 + (end.writes - end.writesBreaker) + 1);
    expect(received).toBeLessThan(writes); // without the breaker, every write's check reaches Redis
  } finally {
    redis.resume();
    direct.disconnect();
    await h?.close();
    await redis.stop();
  }
});
