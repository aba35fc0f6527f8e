import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cacheDesc, harness, queryCount, type Harness } from "./support/harness";
import { detailPaths, expectError, insertDocuments, newestFirst } from "./support/http";

// GET /users/:id/documents: newest first, keyset-paginated with an opaque cursor.

let h: Harness;
let userId: number;
let otherId: number;
let emptyId: number;
type Seeded = { id: number; createdAt: Date; status: string; title: string };
let seeded: Seeded[];
/** How many documents userId has (the seed, plus what tests add through the walk). */
let total = 0;

const STATUSES = ["draft", "published", "archived"] as const;
const T0 = Date.parse("2024-03-01T12:00:00.000Z");

async function createUser(email: string): Promise<number> {
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email, name: email.split("@")[0] } });
  expect(res.status).toBe(201);
  return (await res.json()).id;
}

/** Walks every page; returns the items in order and each page's response. */
async function walk(path: string, between?: (page: number) => Promise<void>) {
  const items: any[] = [];
  const pages: { res: Response; body: any }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await h.request(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    expect(res.status).toBe(200);
    const body = await res.json();
    pages.push({ res, body });
    items.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) break;
    await between?.(page);
  }
  return { items, pages };
}

beforeAll(async () => {
  h = await harness("pagination");
  userId = await createUser("walker@example.com");
  otherId = await createUser("other@example.com");
  emptyId = await createUser("empty@example.com");

  // 55 documents: 25 with distinct created_at, then groups sharing one created_at (15, 10, 5) so
  // ties straddle page boundaries. Inserted in a scrambled order so ids do not follow time.
  const rows: { createdAt: Date; status: (typeof STATUSES)[number] }[] = [];
  for (let i = 0; i < 25; i++) rows.push({ createdAt: new Date(T0 + i * 1000 + 7), status: STATUSES[i % 3]! });
  for (const [size, offsetMs] of [[15, 60_000], [10, 5_500], [5, 120_000]] as const) {
    for (let i = 0; i < size; i++) rows.push({ createdAt: new Date(T0 + offsetMs), status: STATUSES[(i + size) % 3]! });
  }
  const scrambled = rows.map((r, i) => ({ r, k: (i * 37) % rows.length })).sort((a, b) => a.k - b.k).map((x) => x.r);
  seeded = await insertDocuments(
    h.dbUrl,
    scrambled.map((r, i) => ({ userId, title: `doc ${i}`, body: "x".repeat(200), status: r.status, createdAt: r.createdAt })),
  );
  total = seeded.length;
  // Another user's documents, interleaved in time: they must never show up in userId's list.
  await insertDocuments(
    h.dbUrl,
    Array.from({ length: 12 }, (_, i) => ({ userId: otherId, title: `other ${i}`, createdAt: new Date(T0 + i * 2500) })),
  );
});
afterAll(() => h.close());

describe("keyset pagination", () => {
  test("the seed really has identical created_at values and ids out of time order", () => {
    const distinct = new Set(seeded.map((d) => d.createdAt.getTime()));
    expect(seeded).toHaveLength(55);
    expect(distinct.size).toBeLessThan(55);
    const byId = [...seeded].sort((a, b) => a.id - b.id).map((d) => d.id);
    expect(newestFirst(seeded).map((d) => d.id)).not.toEqual(byId.reverse());
  });

  test("walking with limit 10 returns every document exactly once, newest first, then nextCursor null", async () => {
    const { items, pages } = await walk(`/users/${userId}/documents?limit=10`);
    expect(pages).toHaveLength(6);
    expect(pages.map((p) => p.body.items.length)).toEqual([10, 10, 10, 10, 10, 5]);
    expect(items.map((d) => d.id)).toEqual(newestFirst(seeded).map((d) => d.id));
    expect(new Set(items.map((d) => d.id)).size).toBe(55);
    // created_at desc, id desc, checked on the response itself too
    for (let i = 1; i < items.length; i++) {
      const [a, b] = [items[i - 1], items[i]];
      const ta = Date.parse(a.createdAt);
      const tb = Date.parse(b.createdAt);
      expect(ta > tb || (ta === tb && a.id > b.id)).toBe(true);
    }
    for (const p of pages.slice(0, -1)) expect(typeof p.body.nextCursor).toBe("string");
    expect(pages.at(-1)!.body.nextCursor).toBeNull();
    // One query per page (no count query, no per-row lookups) and the list is not cached.
    for (const p of pages) {
      expect(queryCount(p.res)).toBe(1);
      expect(cacheDesc(p.res)).toBeUndefined();
    }
  });

  test("items carry the list columns only (no body, camelCase) and the seeded values", async () => {
    const res = await h.request(`/users/${userId}/documents?limit=3`);
    const { items } = await res.json();
    const newest = newestFirst(seeded).slice(0, 3);
    for (const [i, item] of items.entries()) {
      expect(Object.keys(item).sort()).toEqual(["createdAt", "id", "status", "title", "updatedAt"]);
      expect(item.id).toBe(newest[i]!.id);
      expect(item.title).toBe(newest[i]!.title);
      expect(item.status).toBe(newest[i]!.status);
      expect(item.createdAt).toBe(newest[i]!.createdAt.toISOString());
    }
  });

  test("the cursor is opaque: not the raw id or timestamp", async () => {
    const { nextCursor, items } = await (await h.request(`/users/${userId}/documents?limit=2`)).json();
    expect(nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(nextCursor).not.toContain(String(items[1].id));
    expect(nextCursor).not.toContain(items[1].createdAt);
  });

  test("the walk is stable while newer documents arrive between pages", async () => {
    const before = newestFirst(seeded).map((d) => d.id);
    const added: number[] = [];
    const { items } = await walk(`/users/${userId}/documents?limit=10`, async (page) => {
      // Two per gap, sharing one created_at (now, i.e. newer than everything seeded); one via SQL
      // and one through the API.
      const now = new Date();
      const [row] = await insertDocuments(h.dbUrl, [{ userId, title: `new sql ${page}`, createdAt: now }]);
      added.push(row!.id);
      const res = await h.request("/documents", { method: "POST", as: "admin", json: { userId, title: `new api ${page}` } });
      expect(res.status).toBe(201);
      added.push((await res.json()).id);
    });
    expect(added.length).toBe(10);
    total += added.length;
    expect(items.map((d) => d.id)).toEqual(before);
    for (const id of added) expect(items.map((d) => d.id)).not.toContain(id);

    // A fresh walk sees the new ones first, then the original set.
    const fresh = await walk(`/users/${userId}/documents?limit=7`);
    expect(fresh.items).toHaveLength(total);
    expect(new Set(fresh.items.map((d) => d.id)).size).toBe(total);
    expect(new Set(fresh.items.slice(0, 10).map((d) => d.id))).toEqual(new Set(added));
    expect(fresh.items.slice(10).map((d) => d.id)).toEqual(before);
  });

  test("status filter: every item matches, pages chain, and the set is exactly that status", async () => {
    for (const status of STATUSES) {
      const { items, pages } = await walk(`/users/${userId}/documents?limit=4&status=${status}`);
      const expected = newestFirst(seeded.filter((d) => d.status === status)).map((d) => d.id);
      expect(expected.length).toBeGreaterThan(4);
      for (const item of items) expect(item.status).toBe(status);
      // The walk above added drafts; compare the seeded part only, in order.
      expect(items.map((d) => d.id).filter((id) => expected.includes(id))).toEqual(expected);
      if (status !== "draft") expect(items.map((d) => d.id)).toEqual(expected);
      expect(pages.length).toBe(Math.max(1, Math.ceil(items.length / 4)));
      for (const p of pages) expect(queryCount(p.res)).toBe(1);
      expect(pages.at(-1)!.body.nextCursor).toBeNull();
    }
  });

  test("limit defaults to 20 and accepts 1..100; one query whatever the page size", async () => {
    const dflt = await h.request(`/users/${userId}/documents`);
    expect((await dflt.json()).items).toHaveLength(20);
    expect(queryCount(dflt)).toBe(1);
    const one = await h.request(`/users/${userId}/documents?limit=1`);
    const oneBody = await one.json();
    expect(oneBody.items).toHaveLength(1);
    expect(typeof oneBody.nextCursor).toBe("string");
    expect(queryCount(one)).toBe(1);
    const all = await h.request(`/users/${userId}/documents?limit=100`);
    const allBody = await all.json();
    expect(allBody.items).toHaveLength(total);
    expect(allBody.nextCursor).toBeNull();
    expect(queryCount(all)).toBe(1);
  });

  test("a page that ends exactly at the last row has nextCursor null", async () => {
    const exact = await (await h.request(`/users/${userId}/documents?limit=${total}`)).json();
    expect(exact.items).toHaveLength(total);
    expect(exact.nextCursor).toBeNull();
  });

  test("a user with no documents: 200 with an empty list (with and without a status)", async () => {
    for (const q of ["", "?status=published", "?limit=5"]) {
      const res = await h.request(`/users/${emptyId}/documents${q}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ items: [], nextCursor: null });
    }
  });

  test("an unknown user is 404, also when a well-formed cursor is given", async () => {
    await expectError(await h.request("/users/987654/documents"), 404, "not_found");
    const { nextCursor } = await (await h.request(`/users/${userId}/documents?limit=1`)).json();
    await expectError(await h.request(`/users/987654/documents?cursor=${nextCursor}`), 404, "not_found");
  });

  test("another user's documents never leak into the list", async () => {
    const { items } = await walk(`/users/${otherId}/documents?limit=5`);
    expect(items).toHaveLength(12);
    for (const item of items) expect(item.title).toStartWith("other ");
  });
});

describe("list query validation", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64url");

  test("bad cursors are 400 with path cursor", async () => {
    const bad = [
      "!!!not-base64!!!",
      "abc", // base64 of junk bytes
      b64("hello world"),
      b64("2024-01-01T00:00:00.000Z"), // no id
      b64("2024-01-01T00:00:00.000Z|0"),
      b64("2024-01-01T00:00:00.000Z|-4"),
      b64("2024-01-01T00:00:00.000Z|abc"),
      b64("2024-01-01T00:00:00.000Z|1.5"),
      b64("2024-01-01T00:00:00.000Z|99999999999"),
      b64("2024-01-01T00:00:00.000Z|1|2"),
      b64("2024-02-30T00:00:00.000Z|1"), // not a real date
      b64("2024-01-01|1"), // not the canonical form
      b64("+275760-09-13T00:00:00.000Z|1"), // valid in JS, out of range for Postgres
      b64("-000001-01-01T00:00:00.000Z|1"),
      b64("0000-01-01T00:00:00.000Z|1"),
      b64("2024-01-01T00:00:00.000Z|1\u0000"),
      b64("x".repeat(300)),
      "",
    ];
    for (const cursor of bad) {
      const res = await h.request(`/users/${userId}/documents?cursor=${encodeURIComponent(cursor)}`);
      const body = await expectError(res, 400, "validation_failed");
      expect(detailPaths(body)).toEqual(["cursor"]);
    }
  });

  test("a cursor from this API with a valid shape but far in the past is just an empty page", async () => {
    const res = await h.request(`/users/${userId}/documents?cursor=${b64("0001-01-01T00:00:00.000Z|1")}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
  });

  test("limit 0, 101, x, 1.5, -1, empty, repeated: 400 with path limit", async () => {
    for (const limit of ["0", "101", "x", "1.5", "-1", "", "1e3", "10&limit=20"]) {
      const res = await h.request(`/users/${userId}/documents?limit=${limit}`);
      const body = await expectError(res, 400, "validation_failed");
      expect(detailPaths(body)).toEqual(["limit"]);
    }
  });

  test("a bad status is 400 with path status", async () => {
    for (const status of ["bogus", "DRAFT", "", "draft%00"]) {
      const res = await h.request(`/users/${userId}/documents?status=${status}`);
      const body = await expectError(res, 400, "validation_failed");
      expect(detailPaths(body)).toEqual(["status"]);
    }
  });

  test("a bad user id is 400 with path id", async () => {
    for (const id of ["abc", "0", "-3", "2147483648", "1.5"]) {
      const body = await expectError(await h.request(`/users/${id}/documents`), 400, "validation_failed");
      expect(new Set(detailPaths(body))).toEqual(new Set(["id"]));
    }
  });
});
