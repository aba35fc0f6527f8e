import { entryJson } from "../src/cache/cache-aside";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KEY_VERSION } from "../src/cache/keys";
import { bearer } from "./support/auth";
import { harness, type Harness } from "./support/harness";
import { expectError } from "./support/http";

// No PII to strangers: the public profile (and its cache entry) has no email; /users/me is the
// caller's own, private and uncached. Cache-Control on every response, chosen per route.

let h: Harness;
let id: number;
let docId: number;
beforeAll(async () => {
  h = await harness("privacy");
  id = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "carol@example.com", name: "Carol", bio: "hi" } })).json()).id;
  docId = (await (await h.request("/documents", { method: "POST", as: id, json: { title: "d" } })).json()).id;
  await h.request("/flags/p", { method: "PUT", as: "admin", json: { enabled: true } });
});
afterAll(() => h.close());

describe("public profile", () => {
  test("GET /users/:id has no email, miss and hit alike", async () => {
    for (const expected of ["miss", "hit"]) {
      const res = await h.request(`/users/${id}`);
      expect(res.headers.get("server-timing")).toContain(`desc="${expected}"`);
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(["bio", "createdAt", "id", "name", "updatedAt"]);
      expect(JSON.stringify(body)).not.toContain("carol@example.com");
    }
  });

  test("the cached entry never contains the email (and lives under the bumped key version)", async () => {
    const key = h.services.keys.user(id);
    expect(KEY_VERSION).toBe("v4");
    expect(key).toContain(":v4:");
    await h.request(`/users/${id}`);
    const cached = entryJson(await h.redis.get(key));
    expect(cached).toContain('"name":"Carol"');
    expect(cached).not.toContain("email");
    expect(cached).not.toContain("carol@example.com");
    // A write through the API refills it the same way.
    await h.request(`/users/${id}`, { method: "PATCH", as: id, json: { email: "carol2@example.com" } });
    await h.request(`/users/${id}`);
    expect(await h.redis.get(key)).not.toContain("carol2@example.com");
  });

  test("GET /users/me: the caller's full profile, private and never cached", async () => {
    const before = (await h.redis.keys(`${h.prefix}:*`)).sort();
    const res = await h.request("/users/me", { as: id });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("etag")).toBeNull();
    const me = await res.json();
    expect(me).toMatchObject({ id, email: "carol2@example.com", name: "Carol" });
    expect((await h.redis.keys(`${h.prefix}:*`)).sort()).toEqual(before);
  });

  test("GET /users/me for a token whose user does not exist is 404", async () => {
    await expectError(await h.request("/users/me", { as: 987654 }), 404, "not_found");
  });
});

describe("Cache-Control per route", () => {
  const publicReads = () => [`/users/${id}`, `/users/${id}/documents`, `/users/${id}/stats`, `/documents/${docId}`, "/stats", "/flags", "/flags/p"];

  test("public reads: public, no-cache with an ETag; the 304 says the same", async () => {
    for (const path of publicReads()) {
      const res = await h.request(path);
      expect({ path, status: res.status, cc: res.headers.get("cache-control") }).toEqual({ path, status: 200, cc: "public, no-cache" });
      const etag = res.headers.get("etag");
      expect(etag).toBeTruthy();
      const again = await h.request(path, { headers: { "if-none-match": etag! } });
      expect({ path, status: again.status, cc: again.headers.get("cache-control") }).toEqual({ path, status: 304, cc: "public, no-cache" });
    }
  });

  test("a token on a public read changes nothing: the answer is the same public one", async () => {
    const res = await h.request(`/users/${id}`, { headers: await bearer(id) });
    expect(res.headers.get("cache-control")).toBe("public, no-cache");
    expect((await res.json()).email).toBeUndefined();
  });

  test("writes are private, no-store; errors and probes are no-store", async () => {
    const write = await h.request(`/documents/${docId}`, { method: "PATCH", as: id, json: { title: "e" } });
    expect(write.status).toBe(200);
    expect(write.headers.get("cache-control")).toBe("private, no-store");
    const created = await h.request("/documents", { method: "POST", as: id, json: { title: "new" } });
    expect(created.headers.get("cache-control")).toBe("private, no-store");
    const deleted = await h.request(`/documents/${(await created.json()).id}`, { method: "DELETE", as: id });
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get("cache-control")).toBe("private, no-store");
    for (const [path, status] of [["/users/999999", 404], ["/users/abc", 400], ["/nope", 404], ["/documents/999999", 404]] as const) {
      const res = await h.request(path);
      expect({ path, status: res.status, cc: res.headers.get("cache-control") }).toEqual({ path, status, cc: "no-store" });
    }
    for (const path of ["/healthz", "/readyz"]) expect((await h.request(path)).headers.get("cache-control")).toBe("no-store");
  });
});
