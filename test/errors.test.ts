import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HTTPException } from "hono/http-exception";
import { createApp } from "../src/app";
import { harness, type Harness } from "./support/harness";
import { lockTable } from "./support/pg-lock";
import { detailPaths, expectError, unreachableDbApp, type BareApp, type RequestOptions } from "./support/http";

// One JSON error shape everywhere: { error: { code, message, details? }, requestId }.

let h: Harness;
let down: BareApp;
let userId: number;
let docId: number;

beforeAll(async () => {
  h = await harness("errors");
  down = await unreachableDbApp("errors-down");
  const user = await (await h.request("/users", { method: "POST", as: "admin", json: { email: "e@example.com", name: "E" } })).json();
  userId = user.id;
  docId = (await (await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: "t" } })).json()).id;
});
afterAll(async () => {
  await down.close();
  await h.close();
});

const raw = (path: string, method: string, body: string, type?: string) =>
  h.request(path, { method, body, as: "admin", headers: type === undefined ? {} : { "content-type": type } });

describe("error shape per class", () => {
  test("malformed JSON is 400", async () => {
    for (const body of ["{", '{"email":', "nul", "{'a':1}", "", "\u0000"]) {
      await expectError(await raw("/users", "POST", body, "application/json"), 400, "bad_request");
      await expectError(await raw(`/documents/${docId}`, "PATCH", body, "application/json; charset=utf-8"), 400, "bad_request");
    }
  });

  test("wrong or missing content type is 415", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", undefined]) {
      await expectError(await raw("/users", "POST", '{"email":"x@y.z","name":"x"}', type), 415, "unsupported_media_type");
      await expectError(await raw("/flags/k", "PUT", '{"enabled":true}', type), 415, "unsupported_media_type");
    }
  });

  test("a body over 1 MiB is 413, whatever the route (before parsing)", async () => {
    expect(h.env.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    const big = JSON.stringify({ userId, title: "big", body: "x".repeat(1024 * 1024) });
    await expectError(await raw("/documents", "POST", big, "application/json"), 413, "payload_too_large");
    await expectError(await raw("/flags/k", "PUT", big, "application/json"), 413, "payload_too_large");
    await expectError(await raw("/no/such/route", "POST", big, "application/json"), 413, "payload_too_large");
    // Under the transport limit but over the 100 KB document body: a 400 on the field.
    const mid = JSON.stringify({ userId, title: "mid", body: "x".repeat(512 * 1024) });
    expect(detailPaths(await expectError(await raw("/documents", "POST", mid, "application/json"), 400))).toEqual(["body"]);
  });

  test("unknown routes are 404", async () => {
    for (const [path, method] of [["/nope", "GET"], ["/users/1/nope", "GET"], ["/documents/1/x", "GET"], ["/nope", "DELETE"]] as const) {
      const body = await expectError(await h.request(path, { method, as: "admin" }), 404, "not_found");
      expect(body.error.details).toBeUndefined();
    }
  });

  test("a known path with a method it does not have is 405 with Allow", async () => {
    for (const [path, method, allow] of [
      ["/users", "GET", "POST, OPTIONS"],
      [`/users/${userId}`, "DELETE", "GET, HEAD, PATCH, OPTIONS"],
    ] as const) {
      const res = await h.request(path, { method, as: "admin" });
      expect(res.headers.get("allow")).toBe(allow);
      expect((await expectError(res, 405, "method_not_allowed")).error.details).toBeUndefined();
    }
  });

  test("unknown resources are 404", async () => {
    for (const path of ["/users/555555", "/documents/555555", "/users/555555/stats", "/users/555555/documents", "/flags/nope"]) {
      await expectError(await h.request(path), 404, "not_found");
    }
  });

  test("a duplicate email is 409", async () => {
    const res = await h.request("/users", { method: "POST", as: "admin", json: { email: "E@example.com", name: "dup" } });
    await expectError(res, 409, "conflict");
  });

  test("validation errors list every field with location and path", async () => {
    const res = await h.request("/documents", { method: "POST", as: "admin", json: { userId: "x", title: "", status: "?" } });
    const body = await expectError(res, 400, "validation_failed");
    expect(detailPaths(body).sort()).toEqual(["status", "title", "userId"]);
    for (const d of body.error.details) {
      expect(d.location).toBe("json");
      expect(typeof d.message).toBe("string");
    }
  });

  test("a caller-supplied X-Request-Id is echoed in the header and the body", async () => {
    const res = await h.request("/documents/555555", { headers: { "X-Request-Id": "trace-abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-abc-123");
    expect((await expectError(res, 404)).requestId).toBe("trace-abc-123");
  });
});

describe("bad input never yields a 500", () => {
  const NUL = "\u0000";
  const j = (v: unknown) => JSON.stringify(v);
  // {user} and {doc} are replaced by ids that exist, so a 4xx is the input's fault, not a missing row.
  const nasty: [method: string, path: string, body?: string][] = [
    // ids: huge, negative, fractional, unicode digits, NUL, overflow, malformed escapes
    ["GET", "/users/99999999999999999999"],
    ["GET", "/users/-1"],
    ["GET", "/documents/1e309"],
    ["GET", "/documents/%F0%9F%92%A9"],
    ["GET", "/documents/%00"],
    ["GET", "/documents/%E0%A4%A"],
    ["GET", `/documents/${"9".repeat(2000)}`],
    ["GET", "/users/{user}/documents?limit=99999999999999999999"],
    ["GET", "/users/{user}/documents?limit=%00"],
    ["GET", "/users/{user}/documents?cursor=%F0%9F%92%A9"],
    ["GET", `/users/{user}/documents?cursor=${"A".repeat(5000)}`],
    ["GET", "/users/{user}/documents?status=%00"],
    ["GET", "/flags/%F0%9F%92%A9"],
    ["GET", `/flags/${"k".repeat(5000)}`],
    ["PATCH", "/users/-7", j({ name: "x" })],
    // NUL bytes in strings (Postgres text and jsonb cannot store them)
    ["POST", "/users", j({ email: "nul@example.com", name: `a${NUL}b` })],
    ["POST", "/users", j({ email: "nul2@example.com", name: "ok", bio: `bio${NUL}` })],
    ["POST", "/users", j({ email: `n${NUL}@example.com`, name: "ok" })],
    ["PATCH", "/users/{user}", j({ name: `x${NUL}` })],
    ["POST", "/documents", `{"userId":{user},"title":"t","body":"\\u0000 ${"\\u0000".repeat(10)}"}`], // JSON escapes
    ["POST", "/documents", `{"userId":{user},"title":"t${"\u0000"}"}`], // a raw NUL: not even valid JSON
    ["PATCH", "/documents/{doc}", j({ title: `t${NUL}` })],
    ["PATCH", "/documents/{doc}", j({ body: `b${NUL}` })],
    ["PUT", "/flags/nul", j({ enabled: true, description: `d${NUL}` })],
    ["PUT", "/flags/nul", j({ enabled: true, value: `v${NUL}` })],
    ["PUT", "/flags/nul", j({ enabled: true, value: { deep: [{ s: `x${NUL}` }] } })],
    ["PUT", "/flags/nul", j({ enabled: true, value: { [`k${NUL}`]: 1 } })],
    // numbers, nesting and odd keys at the edges
    ["POST", "/documents", '{"userId":1e999,"title":"t"}'],
    ["POST", "/documents", '{"userId":-0,"title":"t"}'],
    ["POST", "/documents", '{"userId":2147483647,"title":"t"}'], // valid shape, no such user: 422
    ["PUT", "/flags/deep", `{"enabled":true,"value":${"[".repeat(50_000)}${"]".repeat(50_000)}}`],
    ["PUT", "/flags/deepobj", `{"enabled":true,"value":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}}`],
    ["POST", "/documents", `${"[".repeat(100_000)}${"]".repeat(100_000)}`],
    ["POST", "/users", '{"email":"p@example.com","name":"n","__proto__":{"admin":true}}'],
    ["POST", "/users", '{"email":"q@example.com","name":"n","constructor":{"prototype":{"x":1}}}'],
  ];

  test.each(nasty.map(([m, p, b], i) => [`#${i} ${m} ${p.slice(0, 50)} ${(b ?? "").slice(0, 40)}`.replaceAll("\u0000", "\\0"), m, p, b] as const))(
    "%s → 4xx",
    async (_label, method, path, body) => {
      const fill = (s: string) => s.replaceAll("{user}", String(userId)).replaceAll("{doc}", String(docId));
      const init: RequestOptions = { method, as: "admin" };
      if (body !== undefined) {
        init.body = fill(body);
        init.headers = { "content-type": "application/json" };
      }
      const res = await h.request(fill(path), init);
      const parsed = await expectError(res, res.status);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(parsed.error.code).not.toBe("internal");
    },
  );

  test("NUL bytes are reported on the field that carries them", async () => {
    const res = await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: "fine", body: "a\u0000b" } });
    expect(detailPaths(await expectError(res, 400, "validation_failed"))).toEqual(["body"]);
    const flag = await h.request("/flags/nul", { method: "PUT", as: "admin", json: { enabled: true, value: { list: ["ok", "b\u0000d"] } } });
    expect(detailPaths(await expectError(flag, 400, "validation_failed"))).toEqual(["value.list.1"]);
  });

  test("unicode that Postgres can store is accepted and round-trips", async () => {
    const title = "Ünïcödé ✓ 🚀 中文 עברית \u200b";
    const res = await h.request("/documents", { method: "POST", as: "admin", json: { userId, title, body: "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" } });
    expect(res.status).toBe(201);
    const doc = await res.json();
    expect(doc.title).toBe(title);
    expect((await (await h.request(`/documents/${doc.id}`)).json()).body).toBe("𝔘𝔫𝔦𝔠𝔬𝔡𝔢");
  });
});

describe("5xx bodies never leak internals", () => {
  test("an unreachable database is a 503 in the one shape, with nothing leaked", async () => {
    for (const [method, path, json] of [
      ["GET", "/documents/1", undefined],
      ["GET", "/users/1/documents", undefined],
      ["POST", "/users", { email: "down@example.com", name: "Down" }],
      ["PUT", "/flags/down", { enabled: true }],
      ["GET", "/stats", undefined],
    ] as const) {
      const res = await down.request(path, { method, json, as: "admin" });
      const text = await res.clone().text();
      const body = await expectError(res, 503, "unavailable");
      expect(body.error).toEqual({ code: "unavailable", message: "the database is unreachable; try again" });
      for (const leak of ["ECONNREFUSED", "127.0.0.1", "postgres:", "select", "insert", "Error", "stack", "at "]) {
        expect(text).not.toContain(leak);
      }
    }
  });

  test("an unexpected error is a generic 500: no message, stack or SQL leaks", async () => {
    const app = createApp(h.services);
    app.get("/boom", () => {
      throw new Error('secret: select * from users where password = "x" at /srv/app.ts:1');
    });
    const res = await app.request("/boom");
    const text = await res.clone().text();
    const body = await expectError(res as never, 500, "internal");
    expect(body.error).toEqual({ code: "internal", message: "internal server error" });
    for (const leak of ["secret", "select", "password", "/srv", "Error", "stack"]) expect(text).not.toContain(leak);
    expect(res.headers.get("server-timing")).toContain("total;dur=");
  });

  test("input errors are still 4xx when the database is down (validated before any query)", async () => {
    await expectError(await down.request("/documents/abc"), 400, "validation_failed");
    await expectError(await down.request("/nope"), 404, "not_found");
    await expectError(await down.request("/users", { method: "POST", as: "admin", body: "{", headers: { "content-type": "application/json" } }), 400);
  });
});

describe("one code per status: 408, 503 and 504 are told apart", () => {
  test("an HTTPException gets its status' own code", async () => {
    const app = createApp(h.services);
    for (const status of [408, 503, 504] as const) {
      app.get(`/throw/${status}`, () => {
        throw new HTTPException(status, { message: "x" });
      });
    }
    await expectError((await app.request("/throw/408")) as never, 408, "request_timeout");
    await expectError((await app.request("/throw/503")) as never, 503, "unavailable");
    await expectError((await app.request("/throw/504")) as never, 504, "timeout");
  });

  test("a statement cancelled by DB_STATEMENT_TIMEOUT_MS is 503 statement_timeout (a real lock makes it wait)", async () => {
    const slow = await harness("errors_statement_timeout", { env: { DB_STATEMENT_TIMEOUT_MS: "300", REQUEST_TIMEOUT_MS: "30000" } });
    const lock = await lockTable(slow.dbUrl, "documents").catch(async (err) => {
      await slow.close();
      throw err;
    });
    try {
      // A list is never cached: it goes to Postgres, waits on the lock and is cancelled there.
      const body = await expectError(await slow.request("/users/1/documents?limit=1"), 503, "statement_timeout");
      expect(body.error.message).toBe("the database took too long to answer; try again");
    } finally {
      await lock.release();
      await slow.close();
    }
  });
});
