import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { harness, type Harness } from "./support/harness";
import { CLOSED_REDIS_URL, expectError, unreachableDbApp, type BareApp } from "./support/http";

describe("all dependencies up", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("health");
  });
  afterAll(() => h.close());

  test("/healthz is 200", async () => {
    const res = await h.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("/readyz is 200 with every check ok", async () => {
    const res = await h.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { postgres: "ok", cache: "ok" } });
  });
});

describe("Postgres unreachable", () => {
  let down: BareApp;
  beforeAll(async () => {
    down = await unreachableDbApp("health-pg-down");
  });
  afterAll(() => down.close());

  test("/readyz is 503 naming postgres (and only postgres)", async () => {
    const res = await down.request("/readyz");
    const body = await expectError(res, 503, "not_ready");
    expect(body.error.message).toContain("postgres");
    expect(body.error.message).not.toContain("cache");
    expect(body.error.details).toEqual({ postgres: "unreachable", cache: "ok" });
  });

  test("/healthz still answers 200: the process is alive", async () => {
    expect((await down.request("/healthz")).status).toBe(200);
  });
});

describe("Redis unreachable", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("health_redis_down", { redis: CLOSED_REDIS_URL });
  });
  afterAll(() => h.close());

  test("/readyz is 503 naming the cache", async () => {
    const res = await h.request("/readyz");
    const body = await expectError(res, 503, "not_ready");
    expect(body.error.message).toBe("not ready: cache unreachable");
    expect(body.error.message).not.toContain("postgres");
    expect(body.error.details).toEqual({ postgres: "ok", cache: "unreachable" });
  });

  test("reads and writes still work from Postgres (the cache fails open)", async () => {
    const created = await h.request("/users", { method: "POST", as: "admin", json: { email: "r@example.com", name: "R" } });
    expect(created.status).toBe(201);
    const user = await created.json();
    const read = await h.request(`/users/${user.id}`);
    expect(read.status).toBe(200);
    const { email: _email, ...publicProfile } = user;
    expect(await read.json()).toEqual(publicProfile);
  });
});

describe("both unreachable", () => {
  let down: BareApp;
  beforeAll(async () => {
    down = await unreachableDbApp("health-all-down", { REDIS_URL: CLOSED_REDIS_URL });
  });
  afterAll(() => down.close());

  test("/readyz is 503 naming both", async () => {
    const body = await expectError(await down.request("/readyz"), 503, "not_ready");
    expect(body.error.message).toContain("postgres");
    expect(body.error.message).toContain("cache");
    expect(body.error.details).toEqual({ postgres: "unreachable", cache: "unreachable" });
  });
});

describe("in-memory cache (no REDIS_URL)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("health_memory", { redis: false });
  });
  afterAll(() => h.close());

  test("/readyz has the same shape as over Redis: the check is `cache` whatever the store", async () => {
    const res = await h.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { postgres: "ok", cache: "ok" } });
  });
});
