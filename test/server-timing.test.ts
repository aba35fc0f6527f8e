import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cacheDesc, harness, queryCount, serverTiming, type Harness } from "./support/harness";
import { insertDocuments, unreachableDbApp, type BareApp } from "./support/http";

// Server-Timing on every response: db (query count + time), cache (where touched), total.

let h: Harness;
let userId: number;
let docId: number;

beforeAll(async () => {
  h = await harness("server_timing");
  userId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "t@example.com", name: "T" } })).json()).id;
  docId = (await (await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: "timed" } })).json()).id;
  // Enough documents that page size visibly changes the row count but not the query count.
  await insertDocuments(
    h.dbUrl,
    Array.from({ length: 40 }, (_, i) => ({ userId, title: `bulk ${i}`, createdAt: new Date(Date.parse("2024-01-01T00:00:00Z") + i * 1000) })),
  );
});
afterAll(() => h.close());

const ENTRY = /^([a-z]+);dur=(\d+(\.\d+)?)(;desc="[^"]*")?$/;

/** Asserts a well-formed header with db and total entries; returns the parsed entries. */
function expectTiming(res: Response, expectCache?: string | null) {
  const header = res.headers.get("server-timing");
  expect(header).toBeTruthy();
  const parts = header!.split(",").map((p) => p.trim());
  for (const p of parts) expect(p).toMatch(ENTRY);
  const st = serverTiming(res);
  expect(st.db?.desc).toMatch(/^(1 query|(0|[2-9]|\d{2,}) queries)$/);
  expect(st.db?.dur).toBeGreaterThanOrEqual(0);
  expect(st.total?.dur).toBeGreaterThanOrEqual(0);
  if (expectCache === null) expect(st.cache).toBeUndefined();
  else if (expectCache !== undefined) expect(st.cache?.desc).toBe(expectCache);
  if (st.cache) {
    expect(["hit", "miss", "evict", "bypass", "error"]).toContain(st.cache.desc!);
    expect(st.cache.dur).toBeGreaterThanOrEqual(0);
  }
  return st;
}

describe("Server-Timing on every response class", () => {
  test("2xx: 200 (miss and hit), 201, 204", async () => {
    const miss = await h.request(`/documents/${docId}`);
    expect(miss.status).toBe(200);
    expectTiming(miss, "miss");
    const hit = await h.request(`/documents/${docId}`);
    expect(hit.status).toBe(200);
    const st = expectTiming(hit, "hit");
    expect(st.db!.dur).toBe(0);
    const created = await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: "to delete" } });
    expect(created.status).toBe(201);
    expectTiming(created, "evict");
    const del = await h.request(`/documents/${(await created.json()).id}`, { method: "DELETE", as: "admin" });
    expect(del.status).toBe(204);
    expectTiming(del, "evict");
  });

  test("304: a conditional GET with the previous ETag", async () => {
    const first = await h.request(`/users/${userId}`);
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    const res = await h.request(`/users/${userId}`, { headers: { "If-None-Match": etag! } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe("");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("etag")).toBe(etag);
    expectTiming(res, "hit");
    // Weak comparison and lists of tags match too; a stale tag gets the full body.
    expect((await h.request(`/users/${userId}`, { headers: { "If-None-Match": `"nope", ${etag!.slice(2)}` } })).status).toBe(304);
    expect((await h.request(`/users/${userId}`, { headers: { "If-None-Match": 'W/"stale"' } })).status).toBe(200);
    expect(queryCount(res)).toBe(0);
    // The list is not cached: the 304 still shows the one query it took.
    const list = await h.request(`/users/${userId}/documents?limit=5`);
    const list304 = await h.request(`/users/${userId}/documents?limit=5`, { headers: { "If-None-Match": list.headers.get("etag")! } });
    expect(list304.status).toBe(304);
    expectTiming(list304, null);
    expect(queryCount(list304)).toBe(1);
  });

  test("4xx: 400, 404 (route and resource), 409, 413, 415, 422", async () => {
    const json = { "content-type": "application/json" };
    const cases: [Response, number, string | null | undefined][] = [
      [await h.request("/documents/abc"), 400, null],
      [await h.request("/users", { method: "POST", as: "admin", body: "{", headers: json }), 400, null],
      [await h.request("/no/such/route"), 404, null],
      [await h.request("/documents/424242"), 404, undefined],
      [await h.request("/users", { method: "POST", as: "admin", json: { email: "t@example.com", name: "again" } }), 409, null],
      [await h.request("/users", { method: "POST", as: "admin", body: "x".repeat(h.env.BODY_LIMIT_BYTES + 1), headers: json }), 413, null],
      [await h.request("/users", { method: "POST", as: "admin", body: "{}", headers: { "content-type": "text/plain" } }), 415, null],
      [await h.request("/documents", { method: "POST", as: "admin", json: { userId: 999999, title: "x" } }), 422, null],
    ];
    for (const [res, status, cache] of cases) {
      expect(res.status).toBe(status);
      expectTiming(res, cache);
    }
    // Requests rejected before any handler ran did no database work.
    expect(queryCount(cases[0]![0])).toBe(0);
    expect(queryCount(cases[2]![0])).toBe(0);
    expect(queryCount(cases[5]![0])).toBe(0);
    expect(queryCount(cases[6]![0])).toBe(0);
    // The failed statements still count.
    expect(queryCount(cases[4]![0])).toBe(1);
    expect(queryCount(cases[7]![0])).toBe(1);
  });

  describe("5xx", () => {
    let down: BareApp;
    beforeAll(async () => {
      down = await unreachableDbApp("server-timing-down");
    });
    afterAll(() => down.close());

    test("503 (database down) and 503 (/readyz) carry it too", async () => {
      const res = await down.request("/documents/1");
      expect(res.status).toBe(503);
      expectTiming(res, "miss");
      expect(queryCount(res)).toBe(1);
      const ready = await down.request("/readyz");
      expect(ready.status).toBe(503);
      expectTiming(ready, null);
    });
  });
});

describe("query counts per endpoint (no N+1)", () => {
  test("reads: miss = 1 query, hit = 0", async () => {
    await h.request(`/flags/ui`, { method: "PUT", as: "admin", json: { enabled: true } });
    for (const path of [`/users/${userId}`, `/documents/${docId}`, `/users/${userId}/stats`, "/stats", "/flags", "/flags/ui"]) {
      await h.redis.del(
        ...[h.services.keys.user(userId), h.services.keys.document(docId), h.services.keys.userStats(userId), h.services.keys.globalStats(), h.services.keys.flags(), h.services.keys.flag("ui")],
      );
      const miss = await h.request(path);
      expect({ path, status: miss.status, cache: cacheDesc(miss), queries: queryCount(miss) }).toEqual({ path, status: 200, cache: "miss", queries: 1 });
      const hit = await h.request(path);
      expect({ path, status: hit.status, cache: cacheDesc(hit), queries: queryCount(hit) }).toEqual({ path, status: 200, cache: "hit", queries: 0 });
    }
  });

  test("a list page is one query whatever its size", async () => {
    for (const limit of [1, 5, 20, 41, 100]) {
      const res = await h.request(`/users/${userId}/documents?limit=${limit}`);
      const body = await res.json();
      expect(body.items.length).toBe(Math.min(limit, 41));
      expect({ limit, queries: queryCount(res) }).toEqual({ limit, queries: 1 });
      if (body.nextCursor) {
        const next = await h.request(`/users/${userId}/documents?limit=${limit}&cursor=${body.nextCursor}`);
        expect({ limit, page: 2, queries: queryCount(next) }).toEqual({ limit, page: 2, queries: 1 });
      }
    }
  });

  test("writes: one statement each", async () => {
    const user = await h.request("/users", { method: "POST", as: "admin", json: { email: "w@example.com", name: "W" } });
    expect(queryCount(user)).toBe(1);
    const patchUser = await h.request(`/users/${userId}`, { method: "PATCH", as: "admin", json: { bio: "b" } });
    expect(queryCount(patchUser)).toBe(1);
    const doc = await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: "w" } });
    expect(queryCount(doc)).toBe(1);
    const id = (await doc.json()).id;
    const patch = await h.request(`/documents/${id}`, { method: "PATCH", as: "admin", json: { title: "w2" } });
    expect(queryCount(patch)).toBe(1);
    const del = await h.request(`/documents/${id}`, { method: "DELETE", as: "admin" });
    expect(queryCount(del)).toBe(1);
    const flag = await h.request("/flags/w", { method: "PUT", as: "admin", json: { enabled: false } });
    expect(queryCount(flag)).toBe(1);
    for (const res of [user, patchUser, doc, patch, del, flag]) expect(cacheDesc(res)).toBe("evict");
  });

  test("health: /healthz no query and no cache, /readyz none through the pool", async () => {
    const healthz = await h.request("/healthz");
    expectTiming(healthz, null);
    expect(queryCount(healthz)).toBe(0);
    // The readiness probe runs on a connection of its own, outside the pool and its accounting.
    const readyz = await h.request("/readyz");
    expectTiming(readyz, null);
    expect(queryCount(readyz)).toBe(0);
  });
});

describe("Timing-Allow-Origin", () => {
  test("absent without TIMING_ALLOW_ORIGIN", async () => {
    expect(h.env.TIMING_ALLOW_ORIGIN).toBeUndefined();
    expect((await h.request("/healthz")).headers.get("timing-allow-origin")).toBeNull();
  });

  describe("with TIMING_ALLOW_ORIGIN set", () => {
    let t: Harness;
    beforeAll(async () => {
      t = await harness("server_timing_tao", { env: { TIMING_ALLOW_ORIGIN: "https://app.example.com" } });
    });
    afterAll(() => t.close());

    test("present on success and error responses alike", async () => {
      const responses = [
        await t.request("/healthz"),
        await t.request("/flags"),
        await t.request("/nope"),
        await t.request("/documents/abc"),
        await t.request("/users", { method: "POST", as: "admin", body: "{}", headers: { "content-type": "text/plain" } }),
      ];
      for (const res of responses) {
        expect(res.headers.get("timing-allow-origin")).toBe("https://app.example.com");
        expectTiming(res);
      }
    });
  });
});

describe("INSTRUMENTATION=off", () => {
  let off: Harness;
  beforeAll(async () => {
    off = await harness("server_timing_off", { env: { INSTRUMENTATION: "off" } });
  });
  afterAll(() => off.close());

  test("no Server-Timing at all, responses otherwise unchanged", async () => {
    const created = await off.request("/users", { method: "POST", as: "admin", json: { email: "o@example.com", name: "O" } });
    expect(created.status).toBe(201);
    const read = await off.request(`/users/${(await created.json()).id}`);
    expect(read.status).toBe(200);
    const missing = await off.request("/nope");
    expect(missing.status).toBe(404);
    for (const res of [created, read, missing]) expect(res.headers.get("server-timing")).toBeNull();
  });

  test("off is off: the driver and the cache time and report nothing (on, the same requests report each statement and cache call)", async () => {
    /** The statements and cache operations the service reported while `run` ran. */
    const reported = async (svc: Harness, run: () => Promise<void>) => {
      const seen: string[] = [];
      const offQuery = svc.services.telemetry.query.on((e) => seen.push(`query ${e.sql.slice(0, 20)}`));
      const offCache = svc.services.telemetry.cache.on((e) => seen.push(`cache ${e.op} ${e.result}`));
      try {
        await run();
      } finally {
        offQuery();
        offCache();
      }
      return seen;
    };
    const traffic = (svc: Harness, email: string) => async () => {
      const created = await svc.request("/users", { method: "POST", as: "admin", json: { email, name: "R" } });
      expect(created.status).toBe(201);
      const { id } = await created.json();
      for (let i = 0; i < 2; i++) expect((await svc.request(`/users/${id}`)).status).toBe(200); // miss, hit
      expect((await svc.request(`/users/${id}`, { method: "PATCH", as: "admin", json: { name: "S" } })).status).toBe(200);
    };
    const on = await reported(h, traffic(h, "reported-on@example.com"));
    expect(on.filter((e) => e.startsWith("query")).length).toBeGreaterThanOrEqual(3);
    expect(on).toContain("cache get miss");
    expect(on).toContain("cache get hit");
    expect(await reported(off, traffic(off, "reported-off@example.com"))).toEqual([]);
  });
});

test("security headers for a JSON API on every response", async () => {
  for (const res of [await h.request(`/users/${userId}`), await h.request("/nope")]) {
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("strict-transport-security")).toContain("max-age=");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("x-xss-protection")).toBeNull();
  }
});
