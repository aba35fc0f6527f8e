import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { createApp } from "../src/app";
import { bearer } from "./support/auth";
import { bodyOf, client } from "./support/client";
import { harness, type Harness } from "./support/harness";
import { expectError } from "./support/http";

// The document is the app's own: every route mounted is in it, every operation in it answers,
// it validates as OpenAPI 3.1, and what the routes answer matches the schemas it gives.

const METRICS_TOKEN = "openapi-metrics-token-0123456789abcdef";
const DEBUG_TOKEN = "openapi-debug-token-0123456789abcdef";
const METHODS = ["get", "put", "post", "delete", "patch"] as const;

let h: Harness;
let doc: any;
let api: ReturnType<typeof client>;
const sample: Record<string, string> = { file: "init.js" };

beforeAll(async () => {
  h = await harness("openapi", { env: { METRICS_TOKEN, DEBUG_TOKEN } });
  api = client(h.app);
  const admin = { headers: await bearer("admin") };
  const user = await bodyOf(await api.users.$post({ json: { email: "doc@example.com", name: "Doc" } }, admin), 201);
  const created = await api.documents.$post({ json: { userId: user.id, title: "Described", body: "text" } }, admin);
  expect(created.status).toBe(201);
  const flag = await api.flags[":key"].$put({ param: { key: "docs.flag" }, json: { enabled: true, value: { a: [1] } } }, admin);
  expect(flag.status).toBe(201);
  sample.id = String(user.id);
  sample.key = "docs.flag";
  const res = await api["openapi.json"].$get();
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(() => h?.close());

/** Every operation of the document: [METHOD, /path/{param}]. */
const operations = (): [string, string][] =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((m): [string, string] => [m.toUpperCase(), path]),
  );
const concrete = (path: string) => path.replace(/\{(\w+)\}/g, (_, name: string) => sample[name] ?? "1");

test("validates as OpenAPI 3.1 (an npm validator of the specification's schema)", async () => {
  const validator = new Validator();
  const result = await validator.validate(doc);
  expect(result).toEqual({ valid: true });
  expect(validator.version).toBe("3.1");
  expect(doc.openapi).toBe("3.1.0");
});

test("every route mounted on the app is in the document, and nothing else", () => {
  const mounted = new Set<string>();
  for (const r of h.app.routes) {
    // Middleware (app.use, the write chain on "*") is no route.
    if (r.method === "ALL" || r.path.endsWith("*")) continue;
    mounted.add(`${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  }
  const documented = new Set(operations().map(([m, p]) => `${m} ${p}`));
  expect([...documented].sort()).toEqual([...mounted].sort());
  // The ones this app has because of its env (INSTRUMENTATION=on, tokens set) are there too.
  for (const op of ["GET /metrics", "GET /debug/routes", "GET /openapi.json", "GET /docs", "POST /documents"]) expect(documented).toContain(op);
});

test("the document is a cacheable read: ETag, then 304", async () => {
  const res = await api["openapi.json"].$get();
  const etag = res.headers.get("etag");
  expect(etag).toBeTruthy();
  expect(res.headers.get("cache-control")).toBe("public, no-cache");
  expect((await api["openapi.json"].$get({}, { headers: { "if-none-match": etag! } })).status).toBe(304);
});

test("it lists what this instance mounted: no /metrics or /debug with INSTRUMENTATION=off", async () => {
  const off = createApp({ ...h.services, env: { ...h.env, INSTRUMENTATION: "off" } });
  const paths = Object.keys((await (await off.request("/openapi.json")).json()).paths);
  expect(paths).toContain("/users/{id}");
  expect(paths).not.toContain("/metrics");
  expect(paths.filter((p) => p.startsWith("/debug"))).toEqual([]);
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/metrics", "/debug/routes"]));
});

test("every documented operation exists: it answers something other than 405 or the unknown-path 404", async () => {
  const admin = await bearer("admin");
  for (const [method, path] of operations()) {
    const headers: Record<string, string> = { ...admin, "content-type": "application/json" };
    if (path.startsWith("/metrics")) headers.authorization = `Bearer ${METRICS_TOKEN}`;
    if (path.startsWith("/debug")) headers.authorization = `Bearer ${DEBUG_TOKEN}`;
    // An empty object: a write answers its validation 400 (or 404 for a missing id), changing nothing.
    const body = method === "GET" || method === "DELETE" ? undefined : "{}";
    const target = method === "DELETE" ? path.replace("{id}", "2147483647") : concrete(path);
    const res = await h.app.request(target, { method, headers, body });
    const text = await res.text();
    expect({ op: `${method} ${path}`, status: res.status }).not.toMatchObject({ status: 405 });
    expect({ op: `${method} ${path}`, text }).not.toMatchObject({ text: expect.stringContaining("no route for") });
    expect(res.status).toBeLessThan(500);
  }
});

describe("what the document says", () => {
  test("the Error component is the error shape: a validation failure is that shape with its details", async () => {
    expect(doc.components.schemas.Error.required).toEqual(["error", "requestId"]);
    expect(Object.keys(doc.components.schemas.Error.properties.error.properties)).toEqual(["code", "message", "details"]);
    const res = await api.users[":id"].$get({ param: { id: "abc" } });
    const body = await expectError(res, 400, "validation_failed");
    expect(body.error.details).toEqual([{ location: "param", path: "id", message: "must be a positive integer" }]);
    expect(ajv().validate({ $ref: "openapi#/components/schemas/Error" }, body)).toBe(true);
  });

  test("statuses: the middleware stack's on writes, 404/304 on reads, 412 with If-Match", () => {
    const codes = (method: string, path: string) => Object.keys(doc.paths[path][method].responses);
    expect(codes("post", "/documents")).toEqual(expect.arrayContaining(["201", "400", "401", "403", "409", "413", "415", "422", "429", "500", "503", "504"]));
    expect(codes("delete", "/documents/{id}")).toEqual(expect.arrayContaining(["204", "401", "404", "412", "429"]));
    expect(codes("delete", "/documents/{id}")).not.toContain("415"); // no body, no content-type check
    expect(codes("get", "/users/{id}")).toEqual(expect.arrayContaining(["200", "304", "400", "404", "503", "504"]));
    expect(codes("get", "/metrics")).toContain("401");
    for (const status of ["400", "401", "403", "404", "405", "412", "413", "415", "429", "503", "504"]) {
      expect(doc.components.responses[`Error${status}`]?.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    }
    // 405 belongs to no operation (it answers the methods a path lacks): the info text names it.
    expect(doc.info.description).toContain("405");
  });

  test("auth: bearer on every write and GET /users/me, none on public reads", () => {
    for (const [method, path] of operations()) {
      const security = doc.paths[path][method.toLowerCase()].security;
      if (method !== "GET" || path === "/users/me") expect({ op: `${method} ${path}`, security }).toEqual({ op: `${method} ${path}`, security: [{ bearer: [] }] });
      else if (path === "/metrics" || path.startsWith("/debug")) expect(security).toContainEqual({ operatorToken: [] });
      else expect({ op: `${method} ${path}`, security }).toEqual({ op: `${method} ${path}`, security: undefined });
    }
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test("headers: X-Request-Id and Server-Timing on every answer, ETag on the cached reads — as the service sends them", async () => {
    for (const [method, path] of operations()) {
      for (const [status, response] of Object.entries<any>(doc.paths[path][method.toLowerCase()].responses)) {
        const headers = response.$ref ? doc.components.responses[response.$ref.split("/").pop()].headers : response.headers;
        expect({ op: `${method} ${path} ${status}`, headers: Object.keys(headers ?? {}) }).toMatchObject({
          headers: expect.arrayContaining(["X-Request-Id", "Server-Timing"]),
        });
      }
    }
    expect(Object.keys(doc.paths["/users/{id}"].get.responses["200"].headers)).toContain("ETag");
    const res = await api.users[":id"].$get({ param: { id: sample.id! } });
    expect(res.status).toBe(200);
    for (const header of ["x-request-id", "server-timing", "etag"]) expect(res.headers.get(header)).toBeTruthy();
    const again = await api.users[":id"].$get({ param: { id: sample.id! } }, { headers: { "if-none-match": res.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });
});

/** Ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) over the document's own components. */
function ajv() {
  const v = new Ajv2020({ strict: false, allErrors: true });
  addFormats(v);
  v.addSchema({ $id: "openapi", components: doc.components });
  return v;
}

test("the reads answer what their 200 schema says", async () => {
  const v = ajv();
  for (const [method, path] of operations()) {
    if (method !== "GET") continue;
    const content = doc.paths[path].get.responses["200"].content?.["application/json"];
    if (!content) continue; // /docs, its assets and /metrics are not JSON
    const headers = path === "/users/me" ? await bearer(Number(sample.id)) : path.startsWith("/debug") ? { authorization: `Bearer ${DEBUG_TOKEN}` } : undefined;
    const res = await h.app.request(concrete(path), { headers });
    expect({ op: path, status: res.status }).toEqual({ op: path, status: 200 });
    const body = await res.json();
    const schema = JSON.parse(JSON.stringify(content.schema).replaceAll('"#/components', '"openapi#/components'));
    const valid = v.validate(schema, body);
    expect({ op: path, errors: valid ? null : v.errors }).toEqual({ op: path, errors: null });
  }
});

describe("GET /docs", () => {
  test("the page loads its scripts from this service only (CSP), and the assets are cacheable", async () => {
    const res = await api.docs.$get();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThanOrEqual(3);
    expect(html).not.toMatch(/<script>/); // no inline script (CSP would refuse it)
    for (const src of sources) {
      expect(src.startsWith("/docs/")).toBe(true);
      const asset = await h.app.request(src);
      expect({ src, status: asset.status }).toEqual({ src, status: 200 });
      expect(asset.headers.get("cache-control")).toBe("public, max-age=86400");
    }
  });

  test("the script bundle is compressed once: the second fetch comes from the memo of compressed bodies", async () => {
    const get = () => h.app.request("/docs/swagger-ui-bundle.js", { headers: { "accept-encoding": "br" } });
    const first = await get();
    expect(first.headers.get("content-encoding")).toBe("br");
    expect(first.headers.get("server-timing")).toContain("compress;");
    const second = await get();
    expect(second.headers.get("content-encoding")).toBe("br");
    expect(second.headers.get("server-timing")).not.toContain("compress;");
    expect(await second.arrayBuffer()).toEqual(await first.arrayBuffer());
    const head = await h.app.request("/docs/swagger-ui-bundle.js", { method: "HEAD", headers: { "accept-encoding": "br" } });
    expect(Number(head.headers.get("content-length"))).toBe((await (await get()).arrayBuffer()).byteLength);
  });

  test("an unknown asset is a 404 in the error shape", async () => {
    await expectError(await api.docs[":file"].$get({ param: { file: "nope.js" } }), 404, "not_found");
  });
});
