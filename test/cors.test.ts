import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { parseEnv } from "../src/env";
import { harness, serverTiming, type Harness } from "./support/harness";
import { expectError } from "./support/http";

// CORS_ORIGINS: hono/cors where it is allowed, nothing at all where it is not, and the JSON-only
// body check that keeps cross-site form posts (CSRF) out either way.

const APP = "https://app.example.com";
const DEV = "http://localhost:5173";
const EVIL = "https://evil.example.net";
const DEBUG_TOKEN = "cors-debug-token-0123456789";

/** Every Access-Control-* header of a response, by lowercase name. */
const corsHeaders = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([k]) => k.startsWith("access-control-")));
const vary = (res: Response) => (res.headers.get("vary") ?? "").split(",").map((v) => v.trim().toLowerCase());
const list = (value: string | null) => (value ?? "").split(",").map((v) => v.trim().toLowerCase());

function preflight(h: Harness, path: string, origin: string, method: string, headers = "authorization,content-type") {
  return h.request(path, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  });
}

/** The bodies a cross-site HTML form (or a no-cors fetch) can send without a preflight. */
function formPosts(body: Record<string, unknown>) {
  const text = JSON.stringify(body);
  const multipart = new FormData();
  multipart.set("json", text);
  return [
    { type: "text/plain", body: text as RequestInit["body"] },
    { type: "application/x-www-form-urlencoded", body: new URLSearchParams({ [text]: "" }) as RequestInit["body"] },
    { type: "multipart/form-data", body: multipart as RequestInit["body"] },
  ];
}

describe("CORS_ORIGINS as a list", () => {
  let h: Harness;
  let sql: postgres.Sql;
  let userId: number;
  beforeAll(async () => {
    h = await harness("cors", { env: { CORS_ORIGINS: `${APP}, ${DEV}`, DEBUG_TOKEN } });
    sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
    userId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "c@example.com", name: "C" } })).json()).id;
  });
  afterAll(async () => {
    await sql?.end();
    await h?.close();
  });

  test("preflight from a listed origin: 204 with methods, headers, max-age; before the 404 and body checks", async () => {
    for (const path of [`/documents/1`, "/users", "/no/such/route"]) {
      for (const origin of [APP, DEV]) {
        const res = await preflight(h, path, origin, "PATCH");
        expect(res.status).toBe(204);
        expect(await res.text()).toBe("");
        expect(res.headers.get("access-control-allow-origin")).toBe(origin);
        expect(list(res.headers.get("access-control-allow-methods"))).toEqual(["get", "head", "post", "put", "patch", "delete"]);
        expect(list(res.headers.get("access-control-allow-headers"))).toEqual([
          "authorization",
          "content-type",
          "if-none-match",
          "if-match",
          "x-request-id",
          "idempotency-key",
          "hotpath-lsn",
        ]);
        expect(res.headers.get("access-control-max-age")).toBe("600");
        expect(res.headers.get("access-control-allow-credentials")).toBeNull();
        expect(vary(res)).toContain("origin");
        // Cheap to keep: the preflight is measured and identified like any other request.
        expect(serverTiming(res).total?.dur).toBeGreaterThanOrEqual(0);
        expect(res.headers.get("x-request-id")).toBeTruthy();
      }
    }
  });

  test("preflight from an unlisted origin: no CORS header at all, so the browser refuses the call", async () => {
    for (const origin of [EVIL, "null", `${APP}:8443`, "http://app.example.com"]) {
      const res = await preflight(h, `/documents/1`, origin, "PATCH");
      expect(res.status).toBe(204);
      expect(corsHeaders(res)).toEqual({});
      expect(res.headers.get("timing-allow-origin")).toBeNull();
      expect(vary(res)).toContain("origin");
    }
  });

  test("a listed origin reads the response and the exposed headers; Timing-Allow-Origin echoes it", async () => {
    const res = await h.request(`/users/${userId}`, { headers: { origin: DEV } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(DEV);
    expect(list(res.headers.get("access-control-expose-headers"))).toEqual([
      "server-timing",
      "x-request-id",
      "etag",
      "retry-after",
      "location",
      "www-authenticate",
      "hotpath-lsn",
      "allow",
    ]);
    expect(res.headers.get("timing-allow-origin")).toBe(DEV);
    expect(vary(res)).toContain("origin");
    // The browser revalidates with the exposed ETag: the 304 is readable cross-origin too.
    const etag = res.headers.get("etag")!;
    const notModified = await h.request(`/users/${userId}`, { headers: { origin: DEV, "if-none-match": etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("access-control-allow-origin")).toBe(DEV);
    expect(notModified.headers.get("timing-allow-origin")).toBe(DEV);
  });

  test("errors carry the CORS headers too, so a browser app can read the JSON error", async () => {
    const responses = [
      await h.request("/nope", { headers: { origin: APP } }),
      await h.request("/users/abc", { headers: { origin: APP } }),
      await h.request("/users", { method: "POST", headers: { origin: APP, "content-type": "application/json" }, body: "{" }),
    ];
    for (const res of responses) {
      expect(res.headers.get("access-control-allow-origin")).toBe(APP);
      expect(res.headers.get("timing-allow-origin")).toBe(APP);
      await expectError(res, res.status);
    }
  });

  test("an unlisted origin, or no Origin at all, gets no CORS header and no Timing-Allow-Origin", async () => {
    for (const headers of [{ origin: EVIL }, {} as Record<string, string>]) {
      const res = await h.request(`/users/${userId}`, { headers });
      expect(res.status).toBe(200);
      expect(corsHeaders(res)).toEqual({});
      expect(res.headers.get("timing-allow-origin")).toBeNull();
      // The answer would differ for a listed origin: shared caches must key it by Origin.
      expect(vary(res)).toContain("origin");
    }
  });

  test("cross-site form posts stay 415 from any origin, and change nothing", async () => {
    const before = await sql`select (select count(*)::int from users) as users, (select count(*)::int from documents) as docs`;
    const attempts = [
      ...formPosts({ email: "csrf@example.com", name: "csrf" }).map((p) => ({ ...p, path: "/users" })),
      ...formPosts({ userId, title: "csrf" }).map((p) => ({ ...p, path: "/documents" })),
    ];
    for (const origin of [EVIL, APP]) {
      for (const { type, body, path } of attempts) {
        const headers: Record<string, string> = { origin };
        // multipart: fetch writes the type with its boundary; the others name theirs.
        if (type !== "multipart/form-data") headers["content-type"] = type;
        const res = await h.request(path, { method: "POST", headers, body });
        await expectError(res, 415, "unsupported_media_type");
      }
    }
    const after = await sql`select (select count(*)::int from users) as users, (select count(*)::int from documents) as docs`;
    expect(after).toEqual(before);
  });

  test("preflights are counted as (preflight) 204s in the route table, not as errors", async () => {
    await preflight(h, "/no/such/route", APP, "DELETE");
    await preflight(h, "/documents/1", EVIL, "PATCH");
    const res = await h.request("/debug/routes", { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } });
    const { routes } = (await res.json()) as { routes: { method: string; route: string; statuses: Record<string, number> }[] };
    const options = routes.filter((r) => r.method === "OPTIONS");
    expect(options.map((r) => r.route)).toEqual(["(preflight)"]);
    expect(Object.keys(options[0]!.statuses)).toEqual(["204"]);
  });
});

describe("CORS_ORIGINS=* (reads from anywhere, no writes, no credentials)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("cors_star", { env: { CORS_ORIGINS: "*", CORS_MAX_AGE_S: "120" } });
  });
  afterAll(() => h?.close());

  test("any origin reads: ACAO *, exposed headers, Timing-Allow-Origin *, no Vary: Origin", async () => {
    for (const method of ["GET", "HEAD"]) {
      const res = await h.request("/flags", { method, headers: { origin: EVIL } });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect(list(res.headers.get("access-control-expose-headers"))).toEqual(
        expect.arrayContaining(["server-timing", "x-request-id", "etag"]),
      );
      expect(res.headers.get("timing-allow-origin")).toBe("*");
      expect(vary(res)).not.toContain("origin");
    }
  });

  test("preflight for a read is allowed, for GET and HEAD only", async () => {
    const res = await preflight(h, "/flags", EVIL, "GET", "if-none-match");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(list(res.headers.get("access-control-allow-methods"))).toEqual(["get", "head"]);
    expect(res.headers.get("access-control-max-age")).toBe("120");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("preflight for PATCH, POST, PUT or DELETE is refused: 204 without CORS headers", async () => {
    for (const method of ["PATCH", "POST", "PUT", "DELETE"]) {
      const res = await preflight(h, "/documents/1", EVIL, method);
      expect(res.status).toBe(204);
      expect(corsHeaders(res)).toEqual({});
      expect(vary(res)).not.toContain("origin");
    }
  });

  test("a write's response is not readable cross-origin (no ACAO), and form posts stay 415", async () => {
    for (const { type, body } of formPosts({ email: "star@example.com", name: "star" })) {
      const headers: Record<string, string> = { origin: EVIL };
      if (type !== "multipart/form-data") headers["content-type"] = type;
      const res = await h.request("/users", { method: "POST", headers, body });
      expect(corsHeaders(res)).toEqual({});
      await expectError(res, 415, "unsupported_media_type");
    }
    const json = await h.request("/users", { method: "POST", headers: { origin: EVIL }, json: { email: "s@example.com", name: "S" } });
    expect(corsHeaders(json)).toEqual({});
  });
});

describe("without CORS_ORIGINS (the default)", () => {
  let off: Harness;
  beforeAll(async () => {
    off = await harness("cors_off");
  });
  afterAll(() => off?.close());

  test("no CORS header, no Vary: Origin, and a preflight is an OPTIONS like any other (204 with Allow)", async () => {
    const read = await off.request("/flags", { headers: { origin: APP } });
    expect(read.status).toBe(200);
    expect(corsHeaders(read)).toEqual({});
    expect(read.headers.get("timing-allow-origin")).toBeNull();
    expect(vary(read)).not.toContain("origin");
    const res = await preflight(off, "/flags", APP, "GET");
    expect(corsHeaders(res)).toEqual({});
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    await expectError(await preflight(off, "/no/such/route", APP, "GET"), 404, "not_found");
  });
});

describe("Timing-Allow-Origin", () => {
  let fixed: Harness;
  beforeAll(async () => {
    fixed = await harness("cors_tao", { env: { CORS_ORIGINS: APP, TIMING_ALLOW_ORIGIN: "*" } });
  });
  afterAll(() => fixed?.close());

  test("TIMING_ALLOW_ORIGIN set on its own wins over CORS_ORIGINS, for every origin", async () => {
    for (const headers of [{ origin: APP }, { origin: EVIL }, {} as Record<string, string>]) {
      const res = await fixed.request("/healthz", { headers });
      expect(res.headers.get("timing-allow-origin")).toBe("*");
    }
    // CORS itself still follows the list.
    expect(corsHeaders(await fixed.request("/healthz", { headers: { origin: EVIL } }))).toEqual({});
  });
});

describe("CORS_ORIGINS validation", () => {
  test("* alone, or a list of origins (spaces and empty entries tolerated)", () => {
    expect(parseEnv({ CORS_ORIGINS: "*" }).CORS_ORIGINS).toBe("*");
    expect(parseEnv({ CORS_ORIGINS: ` ${APP} ,${DEV},, http://[::1]:8080` }).CORS_ORIGINS).toEqual([APP, DEV, "http://[::1]:8080"]);
    expect(parseEnv({}).CORS_ORIGINS).toBeUndefined();
    expect(parseEnv({}).CORS_MAX_AGE_S).toBe(600);
  });

  test.each([
    ["https://app.example.com/", "did you mean https://app.example.com?"],
    ["https://app.example.com/app", "no path"],
    ["https://app.example.com?x=1", "no path"],
    ["HTTPS://App.Example.com", "did you mean https://app.example.com?"],
    ["https://app.example.com:443", "did you mean https://app.example.com?"],
    ["app.example.com", "is not an origin"],
    ["*.example.com", "is not an origin"],
    [`*,${APP}`, "* cannot be combined"],
    [",", "expected * or a comma-separated list"],
  ])("%p is refused naming CORS_ORIGINS", (value, why) => {
    expect(() => parseEnv({ CORS_ORIGINS: value })).toThrow(/CORS_ORIGINS/);
    expect(() => parseEnv({ CORS_ORIGINS: value })).toThrow(why);
  });

  test("CORS_MAX_AGE_S must be a whole number of seconds up to a day", () => {
    expect(() => parseEnv({ CORS_MAX_AGE_S: "-1" })).toThrow(/CORS_MAX_AGE_S/);
    expect(() => parseEnv({ CORS_MAX_AGE_S: "86401" })).toThrow(/CORS_MAX_AGE_S/);
  });
});
