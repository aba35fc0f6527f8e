import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import postgres from "postgres";
import { createApp } from "../src/app";
import { GEN_SUFFIX } from "../src/cache/store";
import { harness, serverTiming, type Harness } from "./support/harness";
import { bearer } from "./support/auth";
import { expectError, insertDocuments } from "./support/http";

// Issue 13, HTTP semantics: 405 + Allow, OPTIONS, HEAD, If-None-Match, If-Match.

const DEBUG_TOKEN = "semantics-debug-token-0123";
let h: Harness;
let server: Server<undefined>;
let base: string;
let userId: number;
let otherId: number;
let docId: number;

beforeAll(async () => {
  // Several general connections, so that concurrent conditional writes really run side by side.
  h = await harness("http_semantics", { env: { DEBUG_TOKEN, CORS_ORIGINS: "https://app.example.com", DB_POOL_MAX: "6" } });
  userId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "s@example.com", name: "Sem" } })).json()).id;
  otherId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "o@example.com", name: "Other" } })).json()).id;
  docId = (await (await h.request("/documents", { method: "POST", as: userId, json: { title: "semantic", body: "b".repeat(3000) } })).json()).id;
  await insertDocuments(
    h.dbUrl,
    Array.from({ length: 100 }, (_, i) => ({ userId, title: `page item ${i}`, createdAt: new Date(Date.parse("2024-01-01T00:00:00Z") + i * 1000) })),
  );
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createApp(h.services).fetch });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.stop(true);
  await h?.close();
});

const sql = () => postgres(h.dbUrl, { max: 1, onnotice: () => {} });
async function row(table: "users" | "documents", id: number) {
  const db = sql();
  try {
    return (await db`select * from ${db(table)} where id = ${id}`)[0];
  } finally {
    await db.end();
  }
}

describe("405 and Allow", () => {
  test("a known path with an unsupported method: 405, Allow, the JSON error shape — before authentication", async () => {
    const cases: [string, string, string][] = [
      [`/users/${userId}`, "DELETE", "GET, HEAD, PATCH, OPTIONS"],
      [`/users/${userId}`, "PUT", "GET, HEAD, PATCH, OPTIONS"],
      ["/users", "GET", "POST, OPTIONS"],
      ["/users", "HEAD", "POST, OPTIONS"],
      ["/documents", "DELETE", "POST, OPTIONS"],
      [`/documents/${docId}`, "PUT", "GET, HEAD, PATCH, DELETE, OPTIONS"],
      ["/flags/x", "POST", "GET, HEAD, PUT, OPTIONS"],
      ["/stats", "POST", "GET, HEAD, OPTIONS"],
    ];
    for (const [path, method, allow] of cases) {
      // No token, and a body that is not JSON: the method is decided first (not 401, not 415).
      const res = await h.request(path, { method, body: method === "GET" || method === "HEAD" ? undefined : "x=1", headers: { "content-type": "text/plain" } });
      expect({ path, method, status: res.status, allow: res.headers.get("allow") }).toEqual({ path, method, status: 405, allow });
      expect(res.headers.get("cache-control")).toBe("no-store");
      if (method !== "HEAD") expect((await expectError(res, 405, "method_not_allowed")).error.message).toContain(allow);
    }
    // With a valid token the answer is the same.
    const res = await h.request(`/users/${userId}`, { method: "DELETE", as: "admin" });
    expect(res.headers.get("allow")).toBe("GET, HEAD, PATCH, OPTIONS");
    await expectError(res, 405, "method_not_allowed");
    // Nothing was touched.
    expect((await row("users", userId))?.id).toBe(userId);
  });

  test("405s are counted under (unmatched) in the route table, like 404s", async () => {
    await h.request(`/users/${userId}`, { method: "DELETE" });
    await h.request("/users", { method: "GET" });
    const table = await (await h.request("/debug/routes", { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } })).json();
    const routes = (table.routes as { method: string; route: string; statuses: Record<string, number> }[]).filter((r) => r.statuses["405"]);
    expect(routes.map((r) => `${r.method} ${r.route}`)).toContain("DELETE (unmatched)");
    expect(routes.map((r) => `${r.method} ${r.route}`)).toContain("GET (unmatched)");
    expect(routes.filter((r) => r.route !== "(unmatched)")).toEqual([]);
  });

  test("unknown paths stay 404, and the guarded /debug views are not revealed by a 405", async () => {
    // (Writes to unknown paths still authenticate first, as before: a 404 there needs a token.)
    await expectError(await h.request("/nope", { method: "DELETE", as: "admin" }), 404, "not_found");
    await expectError(await h.request("/debug/routes", { method: "DELETE", as: "admin" }), 404, "not_found");
    expect((await h.request("/debug/routes", { method: "HEAD" })).status).toBe(404);
  });
});

describe("OPTIONS", () => {
  test("a known path without a CORS preflight: 204 with Allow (no origin, or an origin not listed)", async () => {
    const variants: Record<string, string>[] = [{}, { origin: "https://evil.example" }, { origin: "https://evil.example", "access-control-request-method": "PATCH" }];
    for (const headers of variants) {
      const res = await h.request(`/documents/${docId}`, { method: "OPTIONS", headers });
      expect(res.status).toBe(204);
      expect(res.headers.get("allow")).toBe("GET, HEAD, PATCH, DELETE, OPTIONS");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    await expectError(await h.request("/nope", { method: "OPTIONS" }), 404, "not_found");
    await expectError(await h.request("/debug/routes", { method: "OPTIONS" }), 404, "not_found");
    expect((await h.request("/flags", { method: "OPTIONS" })).headers.get("cache-control")).toBe("private, no-store");
  });

  test("a listed origin's preflight is still answered by CORS", async () => {
    const res = await h.request(`/documents/${docId}`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "PATCH" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
  });
});

/** Every GET route, with what it needs to answer 200. */
const getRoutes = async (): Promise<[string, Record<string, string>][]> => [
  ["/healthz", {}],
  ["/readyz", {}],
  [`/users/${userId}`, {}],
  ["/users/me", await bearer(userId)],
  [`/users/${userId}/documents?limit=100`, {}],
  [`/users/${userId}/stats`, {}],
  [`/documents/${docId}`, {}],
  ["/flags", {}],
  ["/stats", {}],
  ["/metrics", await bearer("admin")],
  ["/debug/routes", { authorization: `Bearer ${DEBUG_TOKEN}` }],
];

/** The headers a HEAD must repeat; Server-Timing's values differ per request, so only its entry names. */
const SAME = ["content-type", "content-length", "content-encoding", "etag", "cache-control", "vary"];

describe("HEAD", () => {
  test("every GET route: same status and headers as the GET (Content-Length included), no body — over a real socket", async () => {
    await h.request("/flags/semantics", { method: "PUT", as: "admin", json: { enabled: true } });
    const routes = [...(await getRoutes()), ["/flags/semantics", {}] as [string, Record<string, string>]];
    for (const encoding of [undefined, "br, gzip"]) {
      for (const [path, auth] of routes) {
        const headers = { ...auth, ...(encoding ? { "accept-encoding": encoding } : {}) };
        // Warm the cache first, so the GET and the HEAD see the same entry.
        await fetch(base + path, { headers, decompress: false });
        const get = await fetch(base + path, { headers, decompress: false });
        const getBytes = new Uint8Array(await get.arrayBuffer());
        const head = await fetch(base + path, { method: "HEAD", headers, decompress: false });
        expect({ path, status: head.status }).toEqual({ path, status: get.status });
        expect(get.status).toBe(200);
        const pick = (r: Response) => Object.fromEntries(SAME.map((k) => [k, path === "/metrics" && k === "content-length" ? "(varies)" : r.headers.get(k)]));
        // /readyz, /stats and /metrics bodies change between two calls; their length is checked below.
        const volatile = ["/readyz", "/stats", "/metrics", "/debug/routes"].includes(path);
        if (!volatile) expect({ path, ...pick(head) }).toEqual({ path, ...pick(get) });
        expect(Number(get.headers.get("content-length"))).toBe(getBytes.byteLength);
        expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
        expect(Object.keys(serverTiming(head)).sort()).toEqual(Object.keys(serverTiming(get)).filter((k) => k !== "compress" || head.headers.has("content-encoding")).sort());
        expect((await head.arrayBuffer()).byteLength).toBe(0);
      }
    }
  });
});

/** Every cacheable GET (public, no-cache): what If-None-Match applies to. */
const cacheable = () => [
  `/users/${userId}`,
  `/users/${userId}/documents?limit=100`,
  `/users/${userId}/stats`,
  `/documents/${docId}`,
  "/flags",
  "/flags/semantics",
  "/stats",
];

describe("If-None-Match", () => {
  test("every cacheable GET: 304 with the same ETag, Vary and Server-Timing, no body; in every coding", async () => {
    for (const encoding of [undefined, "gzip", "br", "zstd"]) {
      const headers: Record<string, string> = encoding ? { "accept-encoding": encoding } : {};
      for (const path of cacheable()) {
        const first = await h.request(path, { headers });
        expect(first.status).toBe(200);
        expect(first.headers.get("cache-control")).toBe("public, no-cache");
        const etag = first.headers.get("etag")!;
        expect(etag).toMatch(/^W\/"[0-9a-z]+-[0-9a-z]+(-br|-zstd|-gz)?"$/);
        const again = await h.request(path, { headers: { ...headers, "if-none-match": etag } });
        expect({ path, encoding, status: again.status, etag: again.headers.get("etag") }).toEqual({ path, encoding, status: 304, etag });
        expect(again.headers.get("vary")).toContain("Accept-Encoding");
        expect(again.headers.get("content-encoding")).toBeNull();
        expect(serverTiming(again).total).toBeDefined();
        expect(await again.text()).toBe("");
      }
    }
  });

  test("a stale tag is a 200; a tag of the same JSON in another coding is a 304 repeating the tag the client holds", async () => {
    const path = `/users/${userId}/documents?limit=100`;
    const gz = (await h.request(path, { headers: { "accept-encoding": "gzip" } })).headers.get("etag")!;
    expect(gz.endsWith('-gz"')).toBe(true);
    const br = await h.request(path, { headers: { "accept-encoding": "br", "if-none-match": gz } });
    expect(br.status).toBe(304);
    expect(br.headers.get("etag")).toBe(gz);
    expect((await h.request(path, { headers: { "if-none-match": 'W/"stale-1"' } })).status).toBe(200);
    expect((await h.request(path, { headers: { "if-none-match": "*" } })).status).toBe(304);
  });
});

describe("If-Match (optimistic concurrency)", () => {
  const cacheKey = () => h.services.keys.document(docId);

  test("PATCH with the ETag the GET returned (any coding) succeeds; a stale one is 412 and changes nothing", async () => {
    // User profile: the ETag of the public profile.
    const user = await h.request(`/users/${userId}`);
    const ok = await h.request(`/users/${userId}`, { method: "PATCH", as: userId, headers: { "if-match": user.headers.get("etag")! }, json: { bio: "v2" } });
    expect(ok.status).toBe(200);
    const before = await row("users", userId);
    await expectError(
      await h.request(`/users/${userId}`, { method: "PATCH", as: userId, headers: { "if-match": user.headers.get("etag")! }, json: { bio: "lost" } }),
      412,
      "precondition_failed",
    );
    expect(await row("users", userId)).toEqual(before);

    // Document: the ETag of GET /documents/:id (with its author), here a compressed one.
    const doc = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    const tag = doc.headers.get("etag")!;
    expect(tag.endsWith('-br"')).toBe(true);
    const patched = await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, headers: { "if-match": tag }, json: { title: "v2" } });
    expect(patched.status).toBe(200);
    // The cache is filled again with the new version, then a write with the old tag is refused.
    const fresh = await h.request(`/documents/${docId}`);
    expect((await fresh.json()).title).toBe("v2");
    const cached = await h.redis.get(cacheKey());
    const gen = await h.redis.get(`${cacheKey()}${GEN_SUFFIX}`);
    const rowBefore = await row("documents", docId);
    await expectError(await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, headers: { "if-match": tag }, json: { title: "lost" } }), 412, "precondition_failed");
    await expectError(await h.request(`/documents/${docId}`, { method: "DELETE", as: userId, headers: { "if-match": tag } }), 412, "precondition_failed");
    expect(await row("documents", docId)).toEqual(rowBefore);
    expect(await h.redis.get(cacheKey())).toBe(cached);
    expect(await h.redis.get(`${cacheKey()}${GEN_SUFFIX}`)).toBe(gen);
    expect((await h.request(`/documents/${docId}`)).headers.get("etag")).toBe(fresh.headers.get("etag"));
  });

  test("404 and 403 come before the precondition; If-Match: * matches any existing resource", async () => {
    await expectError(await h.request("/documents/999999", { method: "PATCH", as: userId, headers: { "if-match": "*" }, json: { title: "x" } }), 404, "not_found");
    await expectError(await h.request(`/documents/${docId}`, { method: "PATCH", as: otherId, headers: { "if-match": 'W/"stale"' }, json: { title: "x" } }), 403, "forbidden");
    await expectError(await h.request("/users/999999", { method: "PATCH", as: "admin", headers: { "if-match": "*" }, json: { bio: "x" } }), 404, "not_found");
    const star = await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, headers: { "if-match": "*" }, json: { title: "v3" } });
    expect(star.status).toBe(200);
  });

  test("concurrent writes with the same ETag: exactly one wins, the others are 412 (the check and the write do not race)", async () => {
    // Several rounds: the first may find the pool's connections still opening, which serializes it.
    for (let round = 0; round < 4; round++) {
      const tag = (await h.request(`/documents/${docId}`)).headers.get("etag")!;
      const results = await Promise.all(
        ["a", "b", "c", "d", "e"].map((t) => h.request(`/documents/${docId}`, { method: "PATCH", as: userId, headers: { "if-match": tag }, json: { title: `race ${round}${t}` } })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412, 412]);
      const winner = await results.find((r) => r.status === 200)!.json();
      expect((await row("documents", docId))?.title).toBe(winner.title);
    }
  });

  test("PUT /flags/:key: the GET's ETag updates, a stale one is 412, and If-Match on a flag that does not exist creates nothing", async () => {
    await h.request("/flags/cond", { method: "PUT", as: "admin", json: { enabled: false } });
    const tag = (await h.request("/flags/cond")).headers.get("etag")!;
    expect((await h.request("/flags/cond", { method: "PUT", as: "admin", headers: { "if-match": tag }, json: { enabled: true } })).status).toBe(200);
    await expectError(await h.request("/flags/cond", { method: "PUT", as: "admin", headers: { "if-match": tag }, json: { enabled: false } }), 412, "precondition_failed");
    expect((await (await h.request("/flags/cond")).json()).enabled).toBe(true);
    await expectError(await h.request("/flags/never", { method: "PUT", as: "admin", headers: { "if-match": "*" }, json: { enabled: true } }), 412, "precondition_failed");
    await expectError(await h.request("/flags/never"), 404, "not_found");
  });

  test("DELETE with the current ETag deletes", async () => {
    const id = (await (await h.request("/documents", { method: "POST", as: userId, json: { title: "to go" } })).json()).id;
    const tag = (await h.request(`/documents/${id}`)).headers.get("etag")!;
    expect((await h.request(`/documents/${id}`, { method: "DELETE", as: userId, headers: { "if-match": tag } })).status).toBe(204);
    expect(await row("documents", id)).toBeUndefined();
  });
});
