import { entryJson } from "../src/cache/cache-aside";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { as, bodyOf, client } from "./support/client";
import { cacheDesc, harness, queryCount, type Harness } from "./support/harness";
import { detailPaths, expectError } from "./support/http";

let h: Harness;
let api: ReturnType<typeof client>;
let author: { id: number; name: string };
const MAX_BODY = 100 * 1024;

beforeAll(async () => {
  h = await harness("documents");
  api = client(h.app);
  author = await bodyOf(await api.users.$post({ json: { email: "writer@example.com", name: "Writer" } }, await as("admin")), 201);
});
afterAll(() => h.close());

// Raw, since most cases send bodies the typed client would refuse; the valid requests below use it.
const create = (json: unknown) => h.request("/documents", { method: "POST", as: "admin", json });
const getDoc = (id: number) => api.documents[":id"].$get({ param: { id: String(id) } });

describe("POST /documents", () => {
  test("creates: 201, Location, the resource in camelCase, one query, evicts", async () => {
    const res = await create({ userId: author.id, title: "  Hello  ", body: "first body" });
    expect(res.status).toBe(201);
    const doc = await res.json();
    expect(doc).toMatchObject({ userId: author.id, title: "Hello", body: "first body", status: "draft" });
    expect(Object.keys(doc).sort()).toEqual(["body", "createdAt", "id", "status", "title", "updatedAt", "userId"]);
    expect(new Date(doc.createdAt).toISOString()).toBe(doc.createdAt);
    expect(doc.updatedAt).toBe(doc.createdAt);
    expect(res.headers.get("location")).toBe(`/documents/${doc.id}`);
    expect(queryCount(res)).toBe(1);
    expect(cacheDesc(res)).toBe("evict");
  });

  test("status may be given; body defaults to empty", async () => {
    const doc = await (await create({ userId: author.id, title: "Pub", status: "published" })).json();
    expect(doc.status).toBe("published");
    expect(doc.body).toBe("");
  });

  test("unknown userId is 422 with details path userId (and nothing is cached or created)", async () => {
    const res = await create({ userId: 424242, title: "orphan" });
    const body = await expectError(res, 422, "unknown_reference");
    expect(detailPaths(body)).toEqual(["userId"]);
  });

  test("invalid input is 400 with field paths", async () => {
    const cases: [unknown, string[]][] = [
      [{ userId: null, title: "null user" }, ["userId"]],
      [{ userId: author.id }, ["title"]],
      [{ userId: author.id, title: "   " }, ["title"]],
      [{ userId: author.id, title: "x".repeat(301) }, ["title"]],
      [{ userId: author.id, title: "t", status: "deleted" }, ["status"]],
      [{ userId: 0, title: "t" }, ["userId"]],
      [{ userId: 2 ** 31, title: "t" }, ["userId"]],
      [{ userId: "abc", title: "t" }, ["userId"]],
      [{ userId: author.id, title: 5 }, ["title"]],
      [{ userId: author.id, title: "t", body: null }, ["body"]],
      [{ userId: author.id, title: "t", extra: true }, ["(root)"]],
      [[], ["(root)"]],
      ["just a string", ["(root)"]],
    ];
    for (const [json, paths] of cases) {
      const body = await expectError(await create(json), 400, "validation_failed");
      expect({ json, paths: detailPaths(body) }).toEqual({ json, paths });
    }
  });

  test("body up to 100 KB in UTF-8 bytes: exactly at the limit is accepted, one byte over is 400 path body", async () => {
    expect((await create({ userId: author.id, title: "ascii max", body: "a".repeat(MAX_BODY) })).status).toBe(201);
    const over = await expectError(await create({ userId: author.id, title: "ascii over", body: "a".repeat(MAX_BODY + 1) }), 400);
    expect(detailPaths(over)).toEqual(["body"]);
    // Bytes, not characters: é is 2 bytes, € is 3.
    expect((await create({ userId: author.id, title: "2-byte max", body: "é".repeat(MAX_BODY / 2) })).status).toBe(201);
    const twoOver = await expectError(await create({ userId: author.id, title: "2-byte over", body: "é".repeat(MAX_BODY / 2) + "a" }), 400);
    expect(detailPaths(twoOver)).toEqual(["body"]);
    const threeOver = "€".repeat(Math.ceil((MAX_BODY + 1) / 3));
    expect(threeOver.length).toBeLessThan(MAX_BODY);
    expect(detailPaths(await expectError(await create({ userId: author.id, title: "3-byte", body: threeOver }), 400))).toEqual(["body"]);
  });
});

describe("GET /documents/:id", () => {
  let doc: any;
  beforeAll(async () => {
    doc = await (await create({ userId: author.id, title: "Readable", body: "the full body", status: "published" })).json();
  });

  test("embeds the author summary, in one query on a miss and none on a hit", async () => {
    const miss = await getDoc(doc.id);
    expect(miss.status).toBe(200);
    expect(cacheDesc(miss)).toBe("miss");
    expect(queryCount(miss)).toBe(1);
    const body = await miss.json();
    expect(body).toEqual({ ...doc, author: { id: author.id, name: author.name } });

    const hit = await getDoc(doc.id);
    expect(cacheDesc(hit)).toBe("hit");
    expect(queryCount(hit)).toBe(0);
    expect(await hit.json()).toEqual(body);
    expect(hit.headers.get("content-type")).toMatch(/^application\/json/);
  });

  test("the cached entry is under the service's key, with the document TTL", async () => {
    const key = h.services.keys.document(doc.id);
    expect(JSON.parse(entryJson(await h.redis.get(key))!)).toMatchObject({ id: doc.id, author: { id: author.id } });
    const ttl = await h.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(h.env.CACHE_TTL_DOCUMENT_S * 1000 * (1 + h.env.CACHE_TTL_JITTER_PCT / 100));
  });

  test("unknown id is 404 (cached briefly), and a create of that id drops the cached 404", async () => {
    const last = await (await create({ userId: author.id, title: "probe" })).json();
    const nextId = last.id + 1; // identity column, nobody else writes to this database
    await expectError(await getDoc(nextId), 404, "not_found");
    const again = await getDoc(nextId);
    await expectError(again, 404, "not_found");
    expect(cacheDesc(again)).toBe("hit");
    expect(queryCount(again)).toBe(0);
    const made = await (await create({ userId: author.id, title: "now it exists" })).json();
    expect(made.id).toBe(nextId);
    expect((await bodyOf(await getDoc(nextId), 200)).title).toBe("now it exists");
  });

  test("bad ids are 400 with path id, never 500", async () => {
    for (const bad of ["abc", "0", "-1", "1.5", "2147483648", "99999999999999999999999", "%00", "１", "%E0%A4%A"]) {
      const body = await expectError(await h.request(`/documents/${bad}`), 400, "validation_failed");
      expect(new Set(detailPaths(body))).toEqual(new Set(["id"]));
    }
  });
});

describe("PATCH /documents/:id", () => {
  let doc: any;
  beforeAll(async () => {
    doc = await (await create({ userId: author.id, title: "Before", body: "old" })).json();
    await getDoc(doc.id); // cache it
  });

  test("updates, answers the resource, evicts: the next read is a miss showing the write", async () => {
    const res = await api.documents[":id"].$patch({ param: { id: String(doc.id) }, json: { title: "After", status: "archived" } }, await as("admin"));
    expect(queryCount(res)).toBe(1);
    expect(cacheDesc(res)).toBe("evict");
    const updated = await bodyOf(res, 200);
    expect(updated).toMatchObject({ id: doc.id, userId: author.id, title: "After", body: "old", status: "archived", createdAt: doc.createdAt });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(doc.updatedAt));
    const read = await getDoc(doc.id);
    expect(cacheDesc(read)).toBe("miss");
    expect(await read.json()).toMatchObject({ title: "After", status: "archived" });
  });

  test("body limit applies to PATCH too", async () => {
    expect((await api.documents[":id"].$patch({ param: { id: String(doc.id) }, json: { body: "b".repeat(MAX_BODY) } }, await as("admin"))).status).toBe(200);
    const over = await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json: { body: "b".repeat(MAX_BODY + 1) } });
    expect(detailPaths(await expectError(over, 400, "validation_failed"))).toEqual(["body"]);
  });

  test("empty, unknown-field and invalid patches are 400; userId cannot be changed", async () => {
    for (const json of [{}, { userId: 1 }, { status: "nope" }, { title: "" }]) {
      await expectError(await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", json }), 400, "validation_failed");
    }
  });

  test("unknown document is 404", async () => {
    await expectError(await api.documents[":id"].$patch({ param: { id: "7777777" }, json: { title: "x" } }, await as("admin")), 404, "not_found");
  });
});

describe("DELETE /documents/:id", () => {
  test("204 with no body, evicts, then 404 on read and on a second delete", async () => {
    const doc = await (await create({ userId: author.id, title: "Doomed" })).json();
    expect((await getDoc(doc.id)).status).toBe(200);
    const res = await api.documents[":id"].$delete({ param: { id: String(doc.id) } }, await as("admin"));
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(queryCount(res)).toBe(1);
    expect(cacheDesc(res)).toBe("evict");
    const read = await getDoc(doc.id);
    await expectError(read, 404, "not_found");
    expect(cacheDesc(read)).toBe("miss");
    await expectError(await api.documents[":id"].$delete({ param: { id: String(doc.id) } }, await as("admin")), 404, "not_found");
  });
});
