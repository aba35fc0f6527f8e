import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createApp } from "../src/app";
import { logger } from "../src/lib/log";
import { createServices, type Services } from "../src/services";
import { harness, serverTiming, type Harness } from "./support/harness";
import { requester } from "./support/http";
import { freeLowPort } from "./support/ports";

// Issue 12: traces over OTLP/HTTP to a real receiver this test starts (a Bun.serve taking
// POST /v1/traces, protobuf-JSON bodies as the -http exporter sends them), decoded and checked:
// the span tree, names, attributes, parent ids; W3C trace context in and out; sampling; and a
// collector that is dead or never answers, which must cost requests nothing.

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number>;
  status?: { code?: number };
}

/** A collector: records every span it is sent, with its resource's service.name. */
function startCollector() {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  let bodies = 0;
  const value = (v: Record<string, unknown>) =>
    (v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.boolValue)) as string | number;
  const attrs = (list: { key: string; value: Record<string, unknown> }[] = []) =>
    Object.fromEntries(list.map((a) => [a.key, value(a.value)]));
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/traces") return new Response("no", { status: 404 });
      expect(req.headers.get("content-type")).toBe("application/json");
      const body = (await req.json()) as any;
      bodies++;
      for (const rs of body.resourceSpans ?? []) {
        services.add(String(attrs(rs.resource?.attributes)["service.name"]));
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) spans.push({ ...s, parentSpanId: s.parentSpanId || undefined, attributes: attrs(s.attributes) });
      }
      return Response.json({});
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, spans, services, bodies: () => bodies, stop: () => server.stop(true) };
}

const timingTraceparent = (res: Response) => serverTiming(res).traceparent?.desc;

let collector: ReturnType<typeof startCollector>;
let h: Harness;
let lines: Record<string, any>[];
let request: ReturnType<typeof requester>;
let traced: Services;

beforeAll(async () => {
  collector = startCollector();
  h = await harness("tracing");
  lines = [];
  // Services of their own (one app subscribed to their telemetry), logging request lines at info.
  traced = await createServices({ ...h.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: "hotpath-test", LOG_LEVEL: "info" });
  request = requester(createApp({ ...traced, log: logger("info", (l) => lines.push(JSON.parse(l))) }));
  const sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into users (email, name) select 'u' || g || '@example.com', 'User ' || g from generate_series(1, 5) g`;
  } finally {
    await sql.end();
  }
});
afterAll(async () => {
  await traced?.close();
  await h?.close();
  collector?.stop();
});

describe("traces to an OTLP/HTTP collector", () => {
  test("an incoming traceparent is continued: server span, a child per statement and per cache operation", async () => {
    const parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpan = "00f067aa0ba902b7";
    const res = await request("/users/3", { headers: { traceparent: `00-${parentTrace}-${parentSpan}-01` } });
    expect(res.status).toBe(200);
    // Out: the traceparent of this request's server span, in Server-Timing.
    const tp = timingTraceparent(res)!;
    expect(tp).toMatch(new RegExp(`^00-${parentTrace}-[0-9a-f]{16}-01$`));
    const serverSpanId = tp.split("-")[2]!;
    // The request log line carries the trace id.
    const line = lines.find((l) => l.msg === "request" && l.route === "/users/:id");
    expect(line?.trace_id).toBe(parentTrace);

    await traced.tracer!.flush();
    const trace = collector.spans.filter((s) => s.traceId === parentTrace);
    expect(collector.services).toContain("hotpath-test");
    const server = trace.find((s) => s.spanId === serverSpanId)!;
    expect(server).toBeDefined();
    expect(server.name).toBe("GET /users/:id");
    expect(server.kind).toBe(2); // SERVER
    expect(server.parentSpanId).toBe(parentSpan);
    expect(server.attributes).toMatchObject({
      "http.request.method": "GET",
      "http.route": "/users/:id",
      "http.response.status_code": 200,
      "url.path": "/users/3",
    });

    const children = trace.filter((s) => s.parentSpanId === serverSpanId);
    const query = children.find((s) => s.kind === 3)!; // CLIENT
    expect(query.name).toBe("hp_user_by_id");
    expect(query.attributes).toMatchObject({
      "db.system": "postgresql",
      "db.system.name": "postgresql",
      "db.operation.name": "hp_user_by_id",
      "db.response.returned_rows": 1,
    });
    expect(query.attributes["db.client.connection.wait_time_ms"]).toBeGreaterThanOrEqual(0);
    const cache = children.filter((s) => s.name.startsWith("cache "));
    expect(cache.map((s) => [s.name, s.attributes["cache.result"], s.attributes["cache.tier"]])).toEqual([
      ["cache get", "miss", "redis"],
      ["cache set", "filled", "redis"],
    ]);
    // Exactly the tree: the server span, one statement, the read and the fill.
    expect(trace).toHaveLength(4);

    // A hit: the server span and one cache child, no statement.
    const hit = await request("/users/3");
    const hitTp = timingTraceparent(hit)!.split("-");
    await traced.tracer!.flush();
    const hitTrace = collector.spans.filter((s) => s.traceId === hitTp[1]);
    expect(hitTrace.find((s) => s.spanId === hitTp[2])?.parentSpanId).toBeUndefined(); // a new root
    expect(hitTrace.filter((s) => s.parentSpanId === hitTp[2]).map((s) => [s.name, s.attributes["cache.result"]])).toEqual([["cache get", "hit"]]);
  });

  test("a 404 is named by its route class (unmatched), never by its URL", async () => {
    const res = await request("/nope");
    expect(res.status).toBe(404);
    const [, traceId, spanId] = timingTraceparent(res)!.split("-");
    await traced.tracer!.flush();
    const server = collector.spans.find((s) => s.traceId === traceId && s.spanId === spanId)!;
    expect(server.name).toBe("GET (unmatched)");
    expect(server.attributes["http.response.status_code"]).toBe(404);
  });
});

describe("a failed statement", () => {
  test("is marked on its span (status error, error.type = the SQLSTATE); the request span keeps its 4xx", async () => {
    const json = { email: "dup@example.com", name: "D" };
    const headers = { traceparent: "00-11111111111111111111111111111111-2222222222222222-01" };
    expect((await request("/users", { method: "POST", as: "admin", json })).status).toBe(201);
    const res = await request("/users", { method: "POST", as: "admin", json, headers });
    expect(res.status).toBe(409);
    const serverSpanId = timingTraceparent(res)!.split("-")[2];
    await traced.tracer!.flush();
    const trace = collector.spans.filter((s) => s.traceId === "11111111111111111111111111111111");
    const server = trace.find((s) => s.spanId === serverSpanId)!;
    expect(server.name).toBe("POST /users");
    expect(server.attributes["http.response.status_code"]).toBe(409);
    expect(server.status?.code ?? 0).toBe(0); // a 4xx is the client's error, not the server's
    const failed = trace.find((s) => s.parentSpanId === serverSpanId && s.kind === 3 && s.attributes["error.type"] === "23505");
    expect(failed?.name).toBe("insert users");
    expect(failed?.status?.code).toBe(2); // ERROR
  });
});

describe("sampling from OTEL_TRACES_SAMPLER", () => {
  let services: Services;
  let req: ReturnType<typeof requester>;
  beforeAll(async () => {
    services = await createServices({
      ...h.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: 0,
    });
    req = requester(createApp(services));
  });
  afterAll(() => services?.close());

  test("ratio 0: root requests are not recorded (ids still propagate, flag 00); a sampled parent is followed", async () => {
    const before = collector.spans.length;
    const roots = await Promise.all([1, 2, 3, 4, 5].map((id) => req(`/users/${id}`)));
    for (const r of roots) expect(timingTraceparent(r)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    const traced = await req("/users/2", { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
    expect(timingTraceparent(traced)).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    await services.tracer!.flush();
    const exported = collector.spans.slice(before);
    expect(exported.length).toBeGreaterThan(0);
    expect(exported.every((s) => s.traceId === "0af7651916cd43dd8448eb211c80319c")).toBe(true);
  });
});

describe("a collector that is down never costs a request", () => {
  test("dead port: every request answers 200; the failed exports are counted", async () => {
    const port = await freeLowPort();
    const services = await createServices({ ...h.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TIMEOUT: 2000 });
    try {
      const req = requester(createApp(services));
      const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => req(`/users/${1 + (i % 5)}`).then((r) => r.status)));
      expect(statuses.filter((s) => s === 200)).toHaveLength(30);
      await services.tracer!.flush();
      expect(services.tracer!.exportFailures).toBeGreaterThan(0);
    } finally {
      await services.close();
    }
  });

  test("a collector that accepts and never answers: requests complete while no export has", async () => {
    let received = 0;
    const hung = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        received++;
        return new Promise<Response>(() => {});
      },
    });
    // A small queue and a short batch delay: exports start (and hang) while requests keep coming.
    const services = await createServices({
      ...h.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${hung.port}`,
      OTEL_BSP_SCHEDULE_DELAY: 1,
      OTEL_BSP_MAX_QUEUE_SIZE: 8,
      OTEL_EXPORTER_OTLP_TIMEOUT: 60_000,
    });
    try {
      const req = requester(createApp(services));
      let ok = 0;
      for (let round = 0; round < 5; round++) {
        const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => req(`/users/${1 + (i % 5)}`).then((r) => r.status)));
        ok += statuses.filter((s) => s === 200).length;
        await Bun.sleep(5); // let the processor start its (hanging) exports between rounds
      }
      expect(ok).toBe(100);
      // The collector holds exports open; none has completed, yet every request was answered.
      expect(received).toBeGreaterThan(0);
      expect(services.tracer!.exportFailures).toBe(0);
    } finally {
      hung.stop(true);
      await services.close();
    }
  });
});

/** In a fresh process: which OpenTelemetry SDK modules are loaded after building the app and asking for a tracer. */
async function sdkModulesLoaded(endpoint: string | undefined): Promise<number> {
  const script = `
    import { createApp } from "./src/app";
    import { loadTracer } from "./src/obs/tracing";
    import { parseEnv } from "./src/env";
    void createApp;
    const tracer = await loadTracer(parseEnv(process.env));
    const sdk = Object.keys(require.cache).filter((k) => ["sdk-trace", "exporter-trace-otlp-http", "otlp-transformer"].some((m) => k.includes("@opentelemetry/" + m + "/")));
    console.log(JSON.stringify({ tracer: tracer !== undefined, sdk: sdk.length }));
    await tracer?.shutdown();`;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), DATABASE_URL: h.dbUrl };
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (endpoint) env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  const proc = Bun.spawn([process.execPath, "-e", script], { cwd: `${import.meta.dir}/..`, env, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  expect(await proc.exited, err).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  expect(r.tracer).toBe(endpoint !== undefined);
  return r.sdk;
}

describe("off without an endpoint", () => {
  test("the SDK is never imported (the dynamic import happens only with an endpoint)", async () => {
    expect(await sdkModulesLoaded(undefined)).toBe(0);
    expect(await sdkModulesLoaded(collector.url)).toBeGreaterThan(0);
  });

  test("no traceparent entry, no tracer", async () => {
    const services = await createServices({ ...h.env, OTEL_EXPORTER_OTLP_ENDPOINT: undefined });
    try {
      expect(services.tracer).toBeUndefined();
      const res = await requester(createApp(services))("/users/1", { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
      expect(res.status).toBe(200);
      expect(serverTiming(res).traceparent).toBeUndefined();
    } finally {
      await services.close();
    }
  });
});
