import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/app";
import { createTelemetry } from "../src/context/telemetry";
import { bearer } from "./support/auth";
import { harness, type Harness, type TestResponse } from "./support/harness";

const TOKEN = "debug-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };
let h: Harness;
beforeAll(async () => {
  h = await harness("obs-routes", { env: { DEBUG_TOKEN: TOKEN } });
});
afterAll(() => h.close());

/** Prometheus text → { "name{labels}": value } for the samples (comments skipped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
const labelsOf = (key: string) =>
  Object.fromEntries([...key.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));

/** An app over the same database and cache but its own telemetry, so it never touches h.app's counts. */
const sideApp = (env: Partial<Harness["env"]>) => {
  const app = createApp({ ...h.services, telemetry: createTelemetry(), env: { ...h.env, ...env } });
  return { request: async (path: string, init?: RequestInit) => (await app.request(path, init)) as TestResponse };
};

describe("per-route latency and /metrics after a scripted set of requests", () => {
  // method, path, expected status; repeated as listed.
  const script: [string, string, number, number][] = [
    ["GET", "/users/999999", 404, 2],
    ["GET", "/users/abc", 400, 1],
    ["GET", "/nope", 404, 3],
    ["GET", "/flags", 200, 2],
    ["GET", "/healthz", 200, 1],
  ];
  let userId: number;

  test("send", async () => {
    for (const n of [1, 2]) {
      const res = await h.request("/users", { method: "POST", as: "admin", json: { email: `u${n}@example.com`, name: `U${n}` } });
      expect(res.status).toBe(201);
      userId = (await res.json()).id;
    }
    for (let i = 0; i < 5; i++) expect((await h.request(`/users/${userId}`)).status).toBe(200);
    for (const [method, path, status, times] of script) {
      for (let i = 0; i < times; i++) expect((await h.request(path, { method })).status).toBe(status);
    }
  });

  const expected = () => ({
    "POST /users": { "201": 2 },
    "GET /users/:id": { "200": 5, "400": 1, "404": 2 },
    "GET (unmatched)": { "404": 3 },
    "GET /flags": { "200": 2 },
    "GET /healthz": { "200": 1 },
  });

  test("GET /debug/routes: exact counts per route template and status", async () => {
    const res = await h.request("/debug/routes", { headers: auth });
    expect(res.status).toBe(200);
    const body = await res.json();
    const byRoute = Object.fromEntries(body.routes.map((r: any) => [`${r.method} ${r.route}`, r]));
    const want = expected();
    expect(Object.keys(byRoute).sort()).toEqual(Object.keys(want).sort());
    for (const [key, statuses] of Object.entries(want)) {
      const row = byRoute[key];
      expect(row.statuses).toEqual(statuses);
      expect(row.count).toBe(Object.values(statuses).reduce((a, b) => a + b, 0));
      expect(row.p50Ms).toBeLessThanOrEqual(row.p95Ms);
      expect(row.p95Ms).toBeLessThanOrEqual(row.p99Ms);
      expect(row.p99Ms).toBeLessThanOrEqual(row.maxMs);
    }
    expect(body.requests).toBe(16);
    // /users/:id: 5 reads of a user (miss, then 4 hits) and 2 of a missing one (miss, then the
    // cached 404 hits); the 400 never reaches the cache.
    expect(byRoute["GET /users/:id"].cacheHitRatio).toBeCloseTo(5 / 7, 3);
    expect(byRoute["GET /users/:id"].meanQueries).toBeCloseTo(2 / 8, 3);
    expect(byRoute["GET /healthz"].cacheHitRatio).toBeNull();
    expect(byRoute["POST /users"].meanQueries).toBe(1);
    const shares = body.routes.map((r: any) => r.timeShare);
    expect(shares).toEqual([...shares].sort((a: number, b: number) => b - a));
    expect(shares.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 2);
  });

  test("GET /metrics: the same counts, cumulative buckets, cache outcomes, pool and process gauges", async () => {
    const res = await h.request("/metrics", { as: "admin" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const s = samples(text);
    const counts: Record<string, Record<string, number>> = {};
    for (const [key, v] of s) {
      if (!key.startsWith("http_server_request_duration_seconds_count{")) continue;
      const l = labelsOf(key);
      (counts[`${l.method} ${l.route}`] ??= {})[l.status_code!] = v;
    }
    expect(counts).toEqual(expected());

    // Every series: le ascending, counts non-decreasing, +Inf == _count, sub-ms buckets present.
    const series = new Map<string, [number, number][]>();
    for (const [key, v] of s) {
      const m = /^(\w+)_bucket\{(.*)\}$/.exec(key);
      if (!m) continue;
      const l = labelsOf(key);
      const id = `${m[1]}{${Object.entries(l).filter(([k]) => k !== "le").map(([k, x]) => `${k}="${x}"`).join(",")}}`;
      const arr = series.get(id) ?? [];
      arr.push([l.le === "+Inf" ? Infinity : Number(l.le), v]);
      series.set(id, arr);
    }
    expect(series.size).toBeGreaterThan(5);
    for (const [id, buckets] of series) {
      const les = buckets.map(([le]) => le);
      expect(les).toEqual([...les].sort((a, b) => a - b));
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]![1]).toBeGreaterThanOrEqual(buckets[i - 1]![1]);
      expect(buckets.at(-1)![1]).toBe(s.get(id.replace(/^(\w+)\{/, "$1_count{"))!);
      if (id.startsWith("http_")) expect(les[0]).toBeLessThan(0.001);
    }

    // Named statements: 3 loads of users by id (user, missing user, nothing for "abc"), 2 inserts.
    expect(s.get('db_query_duration_seconds_count{statement="hp_user_by_id"}')).toBe(2);
    expect(s.get('db_query_duration_seconds_count{statement="insert users"}')).toBe(2);
    expect(s.get('db_query_duration_seconds_count{statement="hp_flags_all"}')).toBe(1);
    expect(s.get('cache_operations_total{op="get",result="hit",layer="redis"}')).toBe(4 + 1 + 1);
    expect(s.get('cache_operations_total{op="get",result="miss",layer="redis"}')).toBe(1 + 1 + 1);
    // Each miss stored what it loaded: a fill is "filled", not a second "miss".
    expect(s.get('cache_operations_total{op="set",result="filled",layer="redis"}')).toBe(1 + 1 + 1);
    expect(s.has('cache_operations_total{op="set",result="miss",layer="redis"}')).toBe(false);
    expect(s.get('cache_operations_total{op="del",result="evict",layer="redis"}')).toBe(2);
    for (const g of ["db_pool_statements_in_flight", "db_pool_waiting", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_p99_seconds"]) {
      expect(s.get(g)).toBeGreaterThanOrEqual(0);
    }
    expect(s.get("db_pool_max")).toBe(h.env.DB_POOL_MAX);
    expect(text).toContain("# TYPE http_server_request_duration_seconds histogram");
  });

  test("scrapes and debug calls are not counted as traffic", async () => {
    await h.request("/metrics", { as: "admin" });
    await h.request("/debug/routes", { headers: auth });
    const body = await (await h.request("/debug/routes", { headers: auth })).json();
    expect(body.requests).toBe(16);
    expect(await (await h.request("/metrics", { as: "admin" })).text()).not.toContain('route="/metrics"');
  });
});

describe("guards", () => {
  test("/debug/* is a 404 without the token, with a wrong one, and when DEBUG_TOKEN is unset", async () => {
    const tries: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token-0123456789" },
      { authorization: `Basic ${TOKEN}` },
      { authorization: "Bearer not a b64token!" },
      // X-Debug-Token is X-Debug-Plan's header (where Authorization is the caller's own); /debug
      // takes the operator rule /metrics takes: Bearer only.
      { "x-debug-token": TOKEN },
    ];
    for (const headers of tries) {
      const res = await h.request("/debug/routes", { headers });
      expect(res.status).toBe(404);
      const body = await res.json();
      expect(body.error.code).toBe("not_found");
      expect(body.requestId).toBe(res.headers.get("x-request-id"));
    }
    expect((await h.request("/debug/routes", { headers: auth })).status).toBe(200);
    const open = sideApp({ DEBUG_TOKEN: undefined });
    expect((await open.request("/debug/routes", { headers: auth })).status).toBe(404);
  });

  test("/metrics needs METRICS_TOKEN or an admin JWT; METRICS_PUBLIC=true opens it", async () => {
    for (const guarded of [sideApp({}), sideApp({ METRICS_TOKEN: "metrics-secret" })]) {
      const denied = await guarded.request("/metrics");
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toBe('Bearer realm="hotpath"');
      expect(denied.headers.get("cache-control")).toBe("no-store");
      expect((await denied.json()).error.code).toBe("unauthorized");
      for (const authorization of ["Bearer nope", "Bearer", "Basic metrics-secret", "Bearer not a b64token!"]) {
        const refused = await guarded.request("/metrics", { headers: { authorization } });
        expect(refused.status).toBe(401);
        expect((await refused.json()).error.code).toBe("unauthorized");
      }
      // A valid token without the admin role is not an operator.
      expect((await guarded.request("/metrics", { headers: await bearer(7) })).status).toBe(401);
      const ok = await guarded.request("/metrics", { headers: await bearer("admin") });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("http_server_request_duration_seconds");
    }
    const token = await sideApp({ METRICS_TOKEN: "metrics-secret" }).request("/metrics", { headers: { authorization: "Bearer metrics-secret" } });
    expect(token.status).toBe(200);
    // The static token is that endpoint's alone: it opens neither /debug nor a write.
    expect((await sideApp({ METRICS_TOKEN: "metrics-secret" }).request("/debug/routes", { headers: { authorization: "Bearer metrics-secret" } })).status).toBe(404);
    const open = await sideApp({ METRICS_PUBLIC: true }).request("/metrics");
    expect(open.status).toBe(200);
  });

  test("/debug/* also opens to an admin JWT (same rule as /metrics), and stays 404 to a user's token", async () => {
    const noToken = sideApp({ DEBUG_TOKEN: undefined });
    expect((await noToken.request("/debug/routes", { headers: await bearer("admin") })).status).toBe(200);
    expect((await noToken.request("/debug/routes", { headers: await bearer(7) })).status).toBe(404);
  });

  test("INSTRUMENTATION=off: no /metrics, no /debug, no Server-Timing, no plan capture", async () => {
    const off = sideApp({ INSTRUMENTATION: "off" });
    expect((await off.request("/metrics")).status).toBe(404);
    expect((await off.request("/debug/routes", { headers: auth })).status).toBe(404);
    const res = await off.request("/flags", { headers: { ...auth, "x-debug-plan": "1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toBeNull();
    expect((await res.json()).items).toBeArray();
  });
});

describe("X-Debug-Plan", () => {
  const path = () => "/users/1/documents?limit=5"; // user 1 exists (created above), no documents
  test("with the token: the statements the request ran, with their EXPLAIN ANALYZE plans", async () => {
    const res = await h.request(path(), { headers: { ...auth, "x-debug-plan": "1" } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.items).toBeUndefined();
    expect(body.statements.length).toBeGreaterThanOrEqual(1);
    const [first] = body.statements;
    expect(first.sql).toContain('from "documents"');
    expect(first.params).toEqual([1, 6]);
    expect(first.durMs).toBeGreaterThanOrEqual(0);
    expect(first.plan.Plan["Node Type"]).toBe("Limit");
    expect(typeof first.plan["Execution Time"]).toBe("number");
  });
  test("without the token, with a wrong token, or without DEBUG_TOKEN: the header is ignored", async () => {
    const tries: Record<string, string>[] = [{ "x-debug-plan": "1" }, { "x-debug-plan": "1", authorization: "Bearer wrong-token-0123456789" }];
    for (const headers of tries) {
      const res = await h.request(path(), { headers });
      expect(res.status).toBe(200);
      expect((await res.json()).items).toBeArray();
    }
    const res = await sideApp({ DEBUG_TOKEN: undefined }).request(path(), { headers: { ...auth, "x-debug-plan": "1" } });
    expect((await res.json()).items).toBeArray();
  });
  test("only GETs are captured", async () => {
    const res = await h.request("/users", { method: "POST", as: "admin", json: { email: "p@example.com", name: "P" }, headers: { "x-debug-token": TOKEN, "x-debug-plan": "1" } });
    expect(res.status).toBe(201);
    expect((await res.json()).email).toBe("p@example.com");
  });
});
