import { entryJson } from "../src/cache/cache-aside";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cacheDesc, harness, queryCount, type Harness } from "./support/harness";
import { expectError, insertDocuments } from "./support/http";

let h: Harness;
beforeAll(async () => {
  h = await harness("stats");
});
afterAll(() => h.close());

let seq = 0;
async function createUser(): Promise<number> {
  seq++;
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email: `s${seq}@example.com`, name: `S${seq}` } });
  expect(res.status).toBe(201);
  return (await res.json()).id;
}
const stats = (id: number) => h.request(`/users/${id}/stats`);
const ttlBound = (ttlS: number) => ttlS * 1000 * (1 + h.env.CACHE_TTL_JITTER_PCT / 100);

describe("GET /users/:id/stats", () => {
  test("a user without documents: zero counts, null last activity; miss = 1 query, hit = 0", async () => {
    const id = await createUser();
    const miss = await stats(id);
    expect(miss.status).toBe(200);
    expect(cacheDesc(miss)).toBe("miss");
    expect(queryCount(miss)).toBe(1);
    const body = await miss.json();
    expect(body).toEqual({ userId: id, documents: { total: 0, byStatus: { draft: 0, published: 0, archived: 0 } }, lastActivityAt: null });
    const hit = await stats(id);
    expect(cacheDesc(hit)).toBe("hit");
    expect(queryCount(hit)).toBe(0);
    expect(await hit.json()).toEqual(body);
  });

  test("counts by status and last activity match the seeded rows", async () => {
    const id = await createUser();
    const other = await createUser();
    const rows = [
      { status: "draft", at: "2024-05-01T10:00:00.000Z" },
      { status: "draft", at: "2024-05-03T10:00:00.000Z" },
      { status: "published", at: "2024-05-02T10:00:00.000Z" },
      { status: "published", at: "2024-06-09T08:07:06.543Z" },
      { status: "published", at: "2024-05-02T10:00:00.000Z" },
      { status: "archived", at: "2024-04-01T00:00:00.000Z" },
    ] as const;
    const seeded = await insertDocuments(h.dbUrl, rows.map((r) => ({ userId: id, status: r.status, createdAt: r.at })));
    // Someone else's newer document must not count.
    await insertDocuments(h.dbUrl, [{ userId: other, status: "archived", createdAt: "2025-01-01T00:00:00.000Z" }]);
    const expected = { draft: 0, published: 0, archived: 0 } as Record<string, number>;
    for (const r of seeded) expected[r.status]!++;
    const newest = new Date(Math.max(...seeded.map((r) => r.createdAt.getTime()))).toISOString();
    const res = await stats(id);
    expect(queryCount(res)).toBe(1);
    expect(await res.json()).toEqual({ userId: id, documents: { total: seeded.length, byStatus: expected }, lastActivityAt: newest });
  });

  test("cached with the 60 s user-stats TTL under the service's key", async () => {
    const id = await createUser();
    await stats(id);
    const key = h.services.keys.userStats(id);
    expect(JSON.parse(entryJson(await h.redis.get(key))!)).toMatchObject({ userId: id });
    const ttl = await h.redis.pttl(key);
    expect(h.env.CACHE_TTL_USER_STATS_S).toBe(60);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(ttlBound(60));
  });

  test("create, patch and delete of the user's documents each evict: the next read is a miss reflecting the write", async () => {
    const id = await createUser();
    await stats(id);
    expect(cacheDesc(await stats(id))).toBe("hit");

    const created = await h.request("/documents", { method: "POST", as: "admin", json: { userId: id, title: "one" } });
    expect(created.status).toBe(201);
    const doc = await created.json();
    const afterCreate = await stats(id);
    expect(cacheDesc(afterCreate)).toBe("miss");
    expect(await afterCreate.json()).toEqual({
      userId: id,
      documents: { total: 1, byStatus: { draft: 1, published: 0, archived: 0 } },
      lastActivityAt: doc.createdAt,
    });
    expect(cacheDesc(await stats(id))).toBe("hit");

    expect((await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json: { status: "published" } })).status).toBe(200);
    const afterPatch = await stats(id);
    expect(cacheDesc(afterPatch)).toBe("miss");
    expect((await afterPatch.json()).documents).toEqual({ total: 1, byStatus: { draft: 0, published: 1, archived: 0 } });
    expect(cacheDesc(await stats(id))).toBe("hit");

    expect((await h.request(`/documents/${doc.id}`, { method: "DELETE", as: "admin" })).status).toBe(204);
    const afterDelete = await stats(id);
    expect(cacheDesc(afterDelete)).toBe("miss");
    expect(await afterDelete.json()).toEqual({
      userId: id,
      documents: { total: 0, byStatus: { draft: 0, published: 0, archived: 0 } },
      lastActivityAt: null,
    });
  });

  test("a write to one user's documents leaves another user's cached stats alone", async () => {
    const a = await createUser();
    const b = await createUser();
    await stats(a);
    await stats(b);
    await h.request("/documents", { method: "POST", as: "admin", json: { userId: a, title: "a's" } });
    expect(cacheDesc(await stats(b))).toBe("hit");
    expect(cacheDesc(await stats(a))).toBe("miss");
  });

  test("unknown user is 404 (negative-cached), and creating that user drops the cached 404", async () => {
    const last = await createUser();
    const nextId = last + 1; // identity column; nothing else writes users in this database
    const miss = await stats(nextId);
    await expectError(miss, 404, "not_found");
    expect(queryCount(miss)).toBe(1);
    const hit = await stats(nextId);
    await expectError(hit, 404, "not_found");
    expect(cacheDesc(hit)).toBe("hit");
    const made = await createUser();
    expect(made).toBe(nextId);
    const now = await stats(nextId);
    expect(now.status).toBe(200);
    expect((await now.json()).userId).toBe(nextId);
  });

  test("bad ids are 400 with path id", async () => {
    for (const bad of ["x", "0", "-5", "2147483648", "1.5"]) {
      const body = await expectError(await h.request(`/users/${bad}/stats`), 400, "validation_failed");
      expect(body.error.details.map((d: { path: string }) => d.path)).toContain("id");
    }
  });
});

describe("GET /stats", () => {
  const key = () => h.services.keys.globalStats();

  async function expectedGlobal() {
    // Independent recount straight from the database.
    const sql = (await import("postgres")).default(h.dbUrl, { max: 1, onnotice: () => {} });
    try {
      const [u] = await sql`select count(*)::int as n from users`;
      const byStatus = { draft: 0, published: 0, archived: 0 } as Record<string, number>;
      for (const r of await sql`select status::text as status, count(*)::int as n from documents group by status`) byStatus[r.status] = r.n;
      const [d] = await sql`select count(*)::int as n from documents where created_at > now() - interval '24 hours'`;
      return { users: u!.n, documents: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus, last24h: d!.n } };
    } finally {
      await sql.end();
    }
  }

  test("global aggregates: users, documents by status, last 24 h; miss = 1 query, hit = 0; TTL 30 s", async () => {
    const u = await createUser();
    // One old document (outside the 24 h window) and two fresh ones.
    await insertDocuments(h.dbUrl, [{ userId: u, status: "archived", createdAt: new Date(Date.now() - 3 * 24 * 3600 * 1000) }]);
    await h.request("/documents", { method: "POST", as: "admin", json: { userId: u, title: "fresh 1", status: "published" } });
    await h.request("/documents", { method: "POST", as: "admin", json: { userId: u, title: "fresh 2" } });
    await h.redis.del(key());

    const expected = await expectedGlobal();
    expect(expected.documents.last24h).toBeLessThan(expected.documents.total);
    expect(expected.documents.last24h).toBeGreaterThanOrEqual(2);

    const miss = await h.request("/stats");
    expect(miss.status).toBe(200);
    expect(cacheDesc(miss)).toBe("miss");
    expect(queryCount(miss)).toBe(1);
    const body = await miss.json();
    expect(body).toMatchObject(expected);
    expect(Object.keys(body).sort()).toEqual(["computedAt", "documents", "users"]);
    expect(new Date(body.computedAt).toISOString()).toBe(body.computedAt);

    const hit = await h.request("/stats");
    expect(cacheDesc(hit)).toBe("hit");
    expect(queryCount(hit)).toBe(0);
    expect(await hit.json()).toEqual(body);

    expect(h.env.CACHE_TTL_GLOBAL_STATS_S).toBe(30);
    const ttl = await h.redis.pttl(key());
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(ttlBound(30));
  });

  test("NOT evicted on writes (by design): stays a hit with the old numbers until it expires", async () => {
    const before = await (await h.request("/stats")).json();
    const u = await createUser();
    const created = await h.request("/documents", { method: "POST", as: "admin", json: { userId: u, title: "unseen by /stats" } });
    expect(created.status).toBe(201);
    const doc = await created.json();
    await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json: { status: "archived" } });
    const after = await h.request("/stats");
    expect(cacheDesc(after)).toBe("hit");
    expect(await after.json()).toEqual(before);

    // Once the entry is gone (TTL; simulated by deleting it) the next read recomputes.
    await h.redis.del(key());
    const fresh = await h.request("/stats");
    expect(cacheDesc(fresh)).toBe("miss");
    const body = await fresh.json();
    expect(body).toMatchObject(await expectedGlobal());
    expect(body.users).toBe(before.users + 1);
    expect(body.documents.total).toBe(before.documents.total + 1);
    expect(body.documents.byStatus.archived).toBe(before.documents.byStatus.archived + 1);
  });
});
