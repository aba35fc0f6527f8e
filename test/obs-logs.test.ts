import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createApp } from "../src/app";
import { queryRows } from "../src/db/client";
import { logger } from "../src/lib/log";
import { createServices } from "../src/services";
import { bearer } from "./support/auth";
import { testEnv } from "./support/env";
import { harness, type Harness } from "./support/harness";
import { eventually } from "./support/pg-lock";
import { startRedis } from "./support/redis-server";

let h: Harness;
let lines: Record<string, any>[];
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  h = await harness("obs-logs");
  lines = [];
  // A second app over the same services, logging at info into a collector.
  app = createApp({
    ...h.services,
    env: { ...h.env, LOG_LEVEL: "info", SLOW_QUERY_MS: 40 },
    log: logger("info", (line) => lines.push(JSON.parse(line))),
  });
  const { db } = h.services.database;
  // Literals written into the SQL text on purpose: they must not reach the log.
  app.get("/test/slow", async (c) => c.json(await queryRows(db, sql.raw("select pg_sleep(0.08), 'secret-value' as s, 4242 as n"))));
  // The N+1 shape: one lookup per item instead of one query for all.
  app.get("/test/loop/:n", async (c) => {
    for (let i = 1; i <= Number(c.req.param("n")); i++) await h.services.queries.userById.execute({ id: i });
    return c.json({ ok: true });
  });
  await h.request("/users", { method: "POST", as: "admin", json: { email: "a@example.com", name: "A" } });
});
afterAll(() => h.close());

const byMsg = (msg: string): Record<string, any>[] => lines.filter((l) => l.msg === msg);

describe("request log", () => {
  test("one JSON line per request: time, request id, method, route, status, total/db ms, queries, cache", async () => {
    lines.length = 0;
    const a = await app.request("/users/1");
    const b = await app.request("/users/1");
    const c = await app.request("/nope");
    const reqs = byMsg("request");
    expect(reqs).toHaveLength(3);
    expect(reqs.map((l) => l.requestId)).toEqual([a, b, c].map((r) => r.headers.get("x-request-id")));
    expect(reqs[0]).toMatchObject({ level: "info", method: "GET", route: "/users/:id", status: 200, queries: 1, cache: "miss" });
    expect(reqs[1]).toMatchObject({ route: "/users/:id", status: 200, queries: 0, dbMs: 0, poolMs: 0, cache: "hit" });
    expect(reqs[2]).toMatchObject({ route: "(unmatched)", status: 404, queries: 0, cache: null });
    for (const l of reqs) {
      expect(Number.isNaN(Date.parse(l.time))).toBe(false);
      expect(l.totalMs).toBeGreaterThanOrEqual(l.dbMs);
    }
  });

  test("LOG_LEVEL silent (the tests' default) writes nothing", async () => {
    const quiet: string[] = [];
    const silent = createApp({ ...h.services, log: logger(h.env.LOG_LEVEL, (l) => quiet.push(l)) });
    await silent.request("/users/1");
    await silent.request("/test-nothing");
    expect(quiet).toEqual([]);
  });
});

describe("slow-query log", () => {
  test("a statement over SLOW_QUERY_MS is one line with normalized SQL, duration, rows, route, request id", async () => {
    lines.length = 0;
    const res = await app.request("/test/slow");
    expect(res.status).toBe(200);
    const slow = byMsg("slow query");
    expect(slow).toHaveLength(1);
    const line = slow[0]!;
    expect(line).toMatchObject({
      level: "warn",
      sql: "select pg_sleep(?), ? as s, ? as n",
      statement: "select",
      rows: 1,
      route: "/test/slow",
      requestId: res.headers.get("x-request-id"),
    });
    expect(line.durMs).toBeGreaterThan(40);
    expect(JSON.stringify(slow)).not.toContain("secret-value");
    expect(JSON.stringify({ ...line, requestId: undefined })).not.toContain("4242");
  });
});

describe("N+1 flag", () => {
  test("a request running the same statement more than 3 times is flagged once, with the count", async () => {
    lines.length = 0;
    const res = await app.request("/test/loop/5");
    const flagged = byMsg("repeated query (possible N+1)");
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({
      level: "warn",
      statement: "hp_user_by_id",
      count: 5,
      method: "GET",
      route: "/test/loop/:n",
      requestId: res.headers.get("x-request-id"),
    });
    expect(flagged[0]!.sql).toContain('from "users" where "users"."id" = $1');
    const metrics = await (await app.request("/metrics", { headers: await bearer("admin") })).text();
    expect(metrics).toContain('db_repeated_statement_requests_total{route="/test/loop/:n",statement="hp_user_by_id"} 1');
  });

  test("3 times is not flagged", async () => {
    lines.length = 0;
    await app.request("/test/loop/3");
    expect(byMsg("repeated query (possible N+1)")).toEqual([]);
    expect(byMsg("request")).toHaveLength(1);
  });
});

describe("one logger for the process", () => {
  test("a Redis warning from the services reaches the same collector as the request lines, in order", async () => {
    const redis = await startRedis();
    const got: Record<string, any>[] = [];
    const env = testEnv({ DATABASE_URL: h.dbUrl, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `${h.prefix}-one`, LOG_LEVEL: "info" });
    let services: Awaited<ReturnType<typeof createServices>> | undefined;
    try {
      services = await createServices(env, { migrate: false, log: logger("info", (l) => got.push(JSON.parse(l))) });
      const one = createApp(services);
      expect((await one.request("/users/1")).status).toBe(200);
      await redis.kill();
      expect(await eventually(() => got.some((l) => l.msg === "redis error (serving from Postgres)"))).toBe(true);
      expect((await one.request("/users/1")).status).toBe(200); // fail-open: from Postgres
      const seq = got.filter((l) => l.msg === "request" || l.msg.startsWith("redis error")).map((l) => `${l.level} ${l.msg}`);
      expect(seq).toEqual(["info request", "warn redis error (serving from Postgres)", "info request"]);
      const warn = got.find((l) => l.level === "warn")!;
      expect(Number.isNaN(Date.parse(warn.time))).toBe(false);
      expect(typeof warn.err).toBe("string");
    } finally {
      await services?.close();
      await redis.stop();
    }
  });

  test("errors keep name, message, stack and cause, in any field", () => {
    const out: Record<string, any>[] = [];
    const log = logger("debug", (l) => out.push(JSON.parse(l)));
    log.error("boom", { requestId: "r1", err: new TypeError("outer", { cause: new Error("inner") }) });
    log.child({ component: "x" }).debug("with bindings", { n: 1 });
    expect(out[0]).toMatchObject({ level: "error", msg: "boom", requestId: "r1", err: { name: "TypeError", message: "outer", cause: { name: "Error", message: "inner" } } });
    expect(out[0]!.err.stack).toContain("TypeError: outer");
    expect(out[1]).toMatchObject({ level: "debug", msg: "with bindings", component: "x", n: 1 });
  });
});
