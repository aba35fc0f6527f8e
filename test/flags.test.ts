import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cacheDesc, harness, queryCount, type Harness } from "./support/harness";
import { detailPaths, expectError } from "./support/http";

let h: Harness;
beforeAll(async () => {
  h = await harness("flags");
});
afterAll(() => h.close());

const put = (key: string, json: unknown) => h.request(`/flags/${key}`, { method: "PUT", as: "admin", json });

describe("flags", () => {
  test("GET /flags starts empty; miss = 1 query, hit = 0", async () => {
    const miss = await h.request("/flags");
    expect(miss.status).toBe(200);
    expect(await miss.json()).toEqual({ items: [] });
    expect(cacheDesc(miss)).toBe("miss");
    expect(queryCount(miss)).toBe(1);
    const hit = await h.request("/flags");
    expect(cacheDesc(hit)).toBe("hit");
    expect(queryCount(hit)).toBe(0);
  });

  test("unknown flag is 404 (negative-cached)", async () => {
    await expectError(await h.request("/flags/new-editor"), 404, "not_found");
    const again = await h.request("/flags/new-editor");
    await expectError(again, 404, "not_found");
    expect(cacheDesc(again)).toBe("hit");
    expect(queryCount(again)).toBe(0);
  });

  test("PUT creates (201 + Location) in one query and evicts the flag and the list", async () => {
    const value = { rollout: 25, regions: ["eu", "us"], nested: { ok: true } };
    const res = await put("new-editor", { enabled: true, value, description: "the new editor" });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe("/flags/new-editor");
    expect(queryCount(res)).toBe(1);
    expect(cacheDesc(res)).toBe("evict");
    const flag = await res.json();
    expect(flag).toMatchObject({ key: "new-editor", enabled: true, value, description: "the new editor" });
    expect(Object.keys(flag).sort()).toEqual(["description", "enabled", "key", "updatedAt", "value"]);

    // The cached 404 and the cached empty list are both gone.
    const one = await h.request("/flags/new-editor");
    expect(one.status).toBe(200);
    expect(cacheDesc(one)).toBe("miss");
    expect(queryCount(one)).toBe(1);
    expect(await one.json()).toEqual(flag);
    const list = await h.request("/flags");
    expect(cacheDesc(list)).toBe("miss");
    expect(await list.json()).toEqual({ items: [flag] });

    const hit = await h.request("/flags/new-editor");
    expect(cacheDesc(hit)).toBe("hit");
    expect(queryCount(hit)).toBe(0);
  });

  test("PUT on an existing key updates (200) and evicts both again", async () => {
    await h.request("/flags/new-editor");
    await h.request("/flags");
    const res = await put("new-editor", { enabled: false, value: 7 });
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    const flag = await res.json();
    // Omitted description resets to null: PUT replaces the whole flag.
    expect(flag).toMatchObject({ key: "new-editor", enabled: false, value: 7, description: null });
    const one = await h.request("/flags/new-editor");
    expect(cacheDesc(one)).toBe("miss");
    expect(await one.json()).toEqual(flag);
    const list = await h.request("/flags");
    expect(cacheDesc(list)).toBe("miss");
    expect((await list.json()).items).toEqual([flag]);
  });

  test("the list is ordered by key and holds every flag", async () => {
    for (const key of ["zeta", "alpha.beta", "m_1", "0-start"]) expect((await put(key, { enabled: true })).status).toBe(201);
    const { items } = await (await h.request("/flags")).json();
    expect(items.map((f: { key: string }) => f.key)).toEqual(["0-start", "alpha.beta", "m_1", "new-editor", "zeta"]);
    for (const f of items) expect(typeof f.enabled).toBe("boolean");
  });

  test("cached under the service's keys with the flags TTL", async () => {
    await h.request("/flags/zeta");
    for (const key of [h.services.keys.flag("zeta"), h.services.keys.flags()]) {
      const ttl = await h.redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(h.env.CACHE_TTL_FLAGS_S * 1000 * (1 + h.env.CACHE_TTL_JITTER_PCT / 100));
    }
  });

  test("JSON values of every kind round-trip", async () => {
    for (const value of [null, 0, -1.5, "text", "ünïcödé ✓ 🚀", [1, "a", null], { a: { b: [true] } }, false]) {
      const res = await put("kinds", { enabled: true, value });
      expect(res.status).toBeLessThan(300);
      expect((await res.json()).value).toEqual(value);
      expect((await (await h.request("/flags/kinds")).json()).value).toEqual(value);
    }
  });

  test("invalid keys are 400 with path key, on GET and PUT", async () => {
    const bad = [encodeURIComponent("Bad Key!"), "a".repeat(65), "UPPER", "-lead", ".lead", "caf%C3%A9", "%00", "a%2Fb", "a b".replace(" ", "%20")];
    for (const key of bad) {
      for (const res of [await h.request(`/flags/${key}`), await put(key, { enabled: true })]) {
        const body = await expectError(res, 400, "validation_failed");
        expect(detailPaths(body)).toEqual(["key"]);
      }
    }
    // 64 characters is the maximum that is still valid.
    expect((await put("a".repeat(64), { enabled: true })).status).toBe(201);
    expect((await h.request(`/flags/${"a".repeat(64)}`)).status).toBe(200);
  });

  test("invalid bodies are 400 with field paths", async () => {
    const cases: [unknown, string][] = [
      [{}, "enabled"],
      [{ enabled: "yes" }, "enabled"],
      [{ enabled: true, description: "d".repeat(1001) }, "description"],
      [{ enabled: true, value: "v".repeat(64 * 1024) }, "value"],
      [{ enabled: true, value: "é".repeat(40_000) }, "value"], // 40 002 characters but 80 002 bytes
      [{ enabled: true, value: JSON.parse(`${"[".repeat(200)}${"]".repeat(200)}`) }, "value"],
      [{ enabled: true, extra: 1 }, "(root)"],
    ];
    for (const [json, path] of cases) {
      const body = await expectError(await put("valid-key", json), 400, "validation_failed");
      expect(detailPaths(body)).toContain(path);
    }
    // Just under the limit in bytes is accepted: the JSON text "…" is 2 bytes of quotes + the string.
    expect((await put("big-value", { enabled: true, value: "é".repeat((64 * 1024 - 2) / 2) })).status).toBe(201);
    // Nothing was written.
    await expectError(await h.request("/flags/valid-key"), 404, "not_found");
  });

  test("PUT needs a JSON body: other content types are 415", async () => {
    const res = await h.request("/flags/x", { method: "PUT", as: "admin", body: "enabled=true", headers: { "content-type": "application/x-www-form-urlencoded" } });
    await expectError(res, 415, "unsupported_media_type");
  });
});
