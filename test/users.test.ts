import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { as, bodyOf, client } from "./support/client";
import { cacheDesc, harness, queryCount, serverTiming, type Harness } from "./support/harness";
import { detailPaths, expectError } from "./support/http";

let h: Harness;
let api: ReturnType<typeof client>;
beforeAll(async () => {
  h = await harness("users");
  api = client(h.app);
});
afterAll(() => h.close());

describe("users", () => {
  let id: number;
  const getUser = (userId: number) => api.users[":id"].$get({ param: { id: String(userId) } });
  const createUser = async (json: { email: string; name: string; bio?: string }) => api.users.$post({ json }, await as("admin"));
  const patchUser = async (userId: number, json: { email?: string; name?: string }) =>
    api.users[":id"].$patch({ param: { id: String(userId) }, json }, await as("admin"));

  test("POST /users creates (201, Location, camelCase body)", async () => {
    const res = await createUser({ email: "Ada@Example.com", name: "Ada", bio: "math" });
    const body = await bodyOf(res, 201);
    expect(body).toMatchObject({ email: "ada@example.com", name: "Ada", bio: "math" });
    expect(typeof body.createdAt).toBe("string");
    expect(typeof body.updatedAt).toBe("string");
    expect(res.headers.get("location")).toBe(`/users/${body.id}`);
    expect(queryCount(res)).toBe(1);
    expect(cacheDesc(res)).toBe("evict");
    id = body.id;
  });

  test("GET /users/:id: miss then hit, one query then none", async () => {
    const first = await getUser(id);
    expect(first.status).toBe(200);
    expect(cacheDesc(first)).toBe("miss");
    expect(queryCount(first)).toBe(1);
    const second = await getUser(id);
    expect(cacheDesc(second)).toBe("hit");
    expect(queryCount(second)).toBe(0);
    expect(await second.json()).toEqual(await first.json());
    const st = serverTiming(second);
    expect(st.total?.dur).toBeGreaterThanOrEqual(0);
    expect(st.db?.dur).toBe(0);
  });

  test("PATCH evicts: the next read sees the write", async () => {
    expect((await bodyOf(await patchUser(id, { name: "Ada L." }), 200)).name).toBe("Ada L.");
    const read = await getUser(id);
    expect(cacheDesc(read)).toBe("miss");
    expect((await bodyOf(read, 200)).name).toBe("Ada L.");
  });

  test("duplicate email is 409 on create and update, naming the field", async () => {
    const dup = await h.request("/users", { method: "POST", as: "admin", json: { email: "ada@example.com", name: "Other" } });
    expect(detailPaths(await expectError(dup, 409, "conflict"))).toEqual(["email"]);
    const other = await (await h.request("/users", { method: "POST", as: "admin", json: { email: "b@example.com", name: "B" } })).json();
    // The same mapping inside a transaction (If-Match): the driver error is unwrapped the same way.
    for (const headers of [{}, { "if-match": "*" }] as Record<string, string>[]) {
      const clash = await h.request(`/users/${other.id}`, { method: "PATCH", as: "admin", headers, json: { email: "ada@example.com" } });
      const body = await expectError(clash, 409, "conflict");
      expect(body.error.details).toEqual([{ location: "json", path: "email", message: "already taken" }]);
    }
  });

  test("unknown user is 404 and the 404 is cached briefly, then evicted by a create", async () => {
    const missing = await getUser(999999);
    expect(missing.status).toBe(404);
    expect(cacheDesc(missing)).toBe("miss");
    const again = await getUser(999999);
    expect(again.status).toBe(404);
    expect(cacheDesc(again)).toBe("hit");
    expect(queryCount(again)).toBe(0);
  });

  test("validation errors carry field paths", async () => {
    const res = await h.request("/users", { method: "POST", as: "admin", json: { email: "nope", name: "", extra: 1 } });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe("validation_failed");
    const paths = body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toContain("email");
    expect(paths).toContain("name");
    expect(body.requestId).toBe(res.headers.get("x-request-id"));
    const empty = await h.request(`/users/${id}`, { method: "PATCH", as: "admin", json: {} });
    expect(empty.status).toBe(400);
    for (const bad of ["abc", "0", "-1", "1.5", "99999999999"]) {
      const r = await h.request(`/users/${bad}`);
      expect(r.status).toBe(400);
      expect((await r.json()).error.details[0].path).toBe("id");
    }
  });
});
