import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync } from "node:zlib";
import { parseEntry, serializeEntry, entryJson } from "../src/cache/entry";
import { cacheDesc, harness, serverTiming, type Harness } from "./support/harness";
import { eventually } from "./support/pg-lock";
import { parseEnv } from "../src/env";
import { createApp } from "../src/app";
import { createServices } from "../src/services";
import { requester } from "./support/http";

// Issue 13: cache entries carry their compressed representations (br, gzip) beside the JSON, in
// Redis and in L1, so a hit is sent with no encoder run. COMPRESS_MEMO_BYTES=0 throughout: the
// per-process memo cannot be what spares the encoder here.

const NO_MEMO = { COMPRESS_MEMO_BYTES: "0" };
const decoders: Record<string, (b: Uint8Array) => Uint8Array> = {
  br: (b) => new Uint8Array(brotliDecompressSync(b)),
  gzip: (b) => Bun.gunzipSync(b as Uint8Array<ArrayBuffer>),
};
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

async function bigDocument(h: Harness, title = "big") {
  const userId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: `${title}@example.com`, name: "Zoë" } })).json()).id;
  const doc = await (await h.request("/documents", { method: "POST", as: userId, json: { title, body: "¡precompressed! ".repeat(300) } })).json();
  return { userId, docId: doc.id as number, key: h.services.keys.document(doc.id) };
}

describe("over Redis", () => {
  let h: Harness;
  let userId: number;
  let docId: number;
  let key: string;
  beforeAll(async () => {
    h = await harness("precompressed", { env: NO_MEMO });
    ({ userId, docId, key } = await bigDocument(h));
  });
  afterAll(async () => {
    await h?.close();
  });

  test("the fill stores br and gzip beside the JSON; a hit sends the stored bytes with no encoder run", async () => {
    const miss = await h.request(`/documents/${docId}`);
    expect(cacheDesc(miss)).toBe("miss");
    const json = await miss.text();
    // The encoder ran once, at the fill, for both stored codings (the body itself went uncompressed).
    expect(serverTiming(miss).compress?.desc).toBe("br+gzip");
    const stored = parseEntry((await h.redis.getBuffer(key))!)!;
    expect(stored.json).toBe(json);
    expect(Object.keys(stored.coded!).sort()).toEqual(["br", "gzip"]);
    for (const coding of ["br", "gzip"]) {
      for (let i = 0; i < 2; i++) {
        const hit = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": coding } });
        expect(cacheDesc(hit)).toBe("hit");
        expect(hit.headers.get("content-encoding")).toBe(coding);
        expect(serverTiming(hit).compress).toBeUndefined();
        const bytes = await bytesOf(hit);
        expect(Buffer.compare(bytes, stored.coded![coding]!)).toBe(0);
        expect(text(decoders[coding]!(bytes))).toBe(json);
        expect(hit.headers.get("etag")).toBe(`${miss.headers.get("etag")!.slice(0, -1)}-${coding === "gzip" ? "gz" : coding}"`);
      }
    }
    // zstd is not stored: compressed per response (and, with the memo off, every time).
    const zstd = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "zstd" } });
    expect(serverTiming(zstd).compress?.desc).toBe("zstd");
    expect(text(new Uint8Array(Bun.zstdDecompressSync(await bytesOf(zstd))))).toBe(json);
  });

  test("the bytes sent are the ones in Redis (an entry written by hand is served as it is)", async () => {
    const json = entryJson(await h.redis.getBuffer(key))!;
    const marker = new Uint8Array(Bun.gzipSync(Buffer.from('{"from":"redis"}')));
    await h.redis.set(key, serializeEntry({ freshUntil: Date.now() + 60_000, json, coded: { gzip: marker } }), "PX", 60_000);
    const hit = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "gzip" } });
    expect(Buffer.compare(await bytesOf(hit), marker)).toBe(0);
    // A coding the entry lacks is compressed from its JSON.
    const br = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    expect(serverTiming(br).compress?.desc).toBe("br");
    expect(text(decoders.br!(await bytesOf(br)))).toBe(json);
    await h.redis.del(key);
  });

  test("If-None-Match with a stored coding's tag is a 304; HEAD states the stored body's length", async () => {
    const res = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    const tag = res.headers.get("etag")!;
    const length = (await bytesOf(res)).byteLength;
    const again = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br", "if-none-match": tag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(tag);
    const head = await h.request(`/documents/${docId}`, { method: "HEAD", headers: { "accept-encoding": "br" } });
    expect(Number(head.headers.get("content-length"))).toBe(length);
    expect(serverTiming(head).compress).toBeUndefined();
  });

  test("a write evicts the JSON and its compressed bytes together", async () => {
    await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    expect(await h.redis.exists(key)).toBe(1);
    const patched = await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, json: { title: "changed" } });
    expect(patched.status).toBe(200);
    expect(await h.redis.exists(key)).toBe(0);
    const next = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    expect(cacheDesc(next)).toBe("miss");
    expect(serverTiming(next).compress?.desc).toBe("br+gzip");
    const json = text(decoders.br!(await bytesOf(next)));
    expect(JSON.parse(json).title).toBe("changed");
    expect(text(decoders.gzip!(parseEntry((await h.redis.getBuffer(key))!)!.coded!.gzip!))).toBe(json);
  });

  test("an entry in the previous format (v3 '<ms>|<json>') or a truncated one is a miss, then refilled", async () => {
    const truth = JSON.parse(await (await h.request(`/documents/${docId}`)).text());
    const wrong = JSON.stringify({ ...truth, title: "from an old instance" });
    const written = serializeEntry({ freshUntil: Date.now() + 60_000, json: wrong, coded: { br: new Uint8Array(10) } });
    for (const old of [`${Date.now() + 60_000}|${wrong}`, written.subarray(0, written.length - 3)]) {
      await h.redis.set(key, old, "PX", 60_000);
      const res = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
      expect(res.status).toBe(200);
      expect(cacheDesc(res)).toBe("miss");
      expect(JSON.parse(text(decoders.br!(await bytesOf(res)))).title).toBe(truth.title);
      expect(parseEntry((await h.redis.getBuffer(key))!)?.coded?.br).toBeDefined();
    }
  });

  test("one instance's fill serves another instance's hits, precompressed", async () => {
    await h.redis.del(key);
    const filled = await h.request(`/documents/${docId}`);
    expect(cacheDesc(filled)).toBe("miss");
    const other = await createServices(h.env);
    try {
      const res = await requester(createApp(other))(`/documents/${docId}`, { headers: { "accept-encoding": "gzip" } });
      expect(cacheDesc(res)).toBe("hit");
      expect(serverTiming(res).compress).toBeUndefined();
      expect(text(decoders.gzip!(await bytesOf(res)))).toBe(await filled.text());
    } finally {
      await other.close();
    }
  });

  test("a body under COMPRESS_MIN_BYTES is stored without compressed bytes", async () => {
    const profile = await h.request(`/users/${userId}`);
    expect(serverTiming(profile).compress).toBeUndefined();
    const entry = parseEntry((await h.redis.getBuffer(h.services.keys.user(userId)))!)!;
    expect(entry.json).toBe(await profile.text());
    expect(entry.coded).toBeUndefined();
  });
});

test("L1 holds the compressed bytes too, and a write drops them there", async () => {
  const h = await harness("precompressed_l1", { env: { ...NO_MEMO, CACHE_L1: "on", CACHE_L1_CLASSES: "documents:60000" } });
  try {
    expect(await eventually(() => Boolean(h.services.cache.l1BusConnected))).toBe(true);
    const { userId, docId, key } = await bigDocument(h, "l1");
    const json = await (await h.request(`/documents/${docId}`)).text();
    // The bus echo of the create's own eviction may land after that first read: L1 then refuses
    // its value (README "Cache tiers"), and a later hit fills it.
    expect(await eventually(async () => cacheDesc(await h.request(`/documents/${docId}`)) === "l1-hit")).toBe(true);
    // Gone from Redis behind L1's back (no eviction message): only L1 can answer now.
    await h.redis.del(key);
    for (const coding of ["br", "gzip"]) {
      const hit = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": coding } });
      expect(cacheDesc(hit)).toBe("l1-hit");
      expect(hit.headers.get("content-encoding")).toBe(coding);
      expect(serverTiming(hit).compress).toBeUndefined();
      expect(text(decoders[coding]!(await bytesOf(hit)))).toBe(json);
    }
    await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, json: { title: "after" } });
    const next = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    expect(cacheDesc(next)).toBe("miss");
    expect(JSON.parse(text(decoders.br!(await bytesOf(next)))).title).toBe("after");
  } finally {
    await h.close();
  }
});

test("without Redis the in-process store keeps the compressed bytes as well", async () => {
  const h = await harness("precompressed_mem", { redis: false, env: NO_MEMO });
  try {
    const { docId } = await bigDocument(h, "mem");
    const json = await (await h.request(`/documents/${docId}`)).text();
    const hit = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "br" } });
    expect(cacheDesc(hit)).toBe("hit");
    expect(serverTiming(hit).compress).toBeUndefined();
    expect(text(decoders.br!(await bytesOf(hit)))).toBe(json);
  } finally {
    await h.close();
  }
});

describe("entry format", () => {
  test("round trip, and anything else reads as nothing", () => {
    const e = { freshUntil: 1_700_000_000_000, json: '{"t":"ünï|\\n"}', coded: { br: new Uint8Array([1, 10, 124, 0]), gzip: new Uint8Array(0) } };
    const raw = serializeEntry(e);
    expect(parseEntry(raw)).toEqual(e);
    // Fresh-until times come jittered (fractional ms): stored rounded.
    expect(parseEntry(serializeEntry({ freshUntil: 5.7, json: "null" }))).toEqual({ freshUntil: 6, json: "null", coded: undefined });
    // Read as text (redis.get), the JSON still comes out whole.
    expect(entryJson(raw.toString())).toBe(e.json);
    expect(entryJson(raw)).toBe(e.json);
    for (const bad of ["123|{}", "E4|x|2|\n{}", "E4|1|3|\n{}", "E4|1|2|br:5\n{}abc", "E4|1|2|\n{}extra", ""]) {
      expect([bad, parseEntry(Buffer.from(bad))]).toEqual([bad, undefined]);
    }
  });
});

describe("COMPRESS_CACHE_ENCODINGS", () => {
  test("parsed as a list of known codings; anything else names the variable", () => {
    expect(parseEnv({}).COMPRESS_CACHE_ENCODINGS).toEqual(["br", "gzip"]);
    expect(parseEnv({ COMPRESS_CACHE_ENCODINGS: " BR , zstd,br" }).COMPRESS_CACHE_ENCODINGS).toEqual(["br", "zstd"]);
    expect(parseEnv({ COMPRESS_CACHE_ENCODINGS: "none" }).COMPRESS_CACHE_ENCODINGS).toEqual([]);
    expect(() => parseEnv({ COMPRESS_CACHE_ENCODINGS: "br,deflate" })).toThrow(/COMPRESS_CACHE_ENCODINGS/);
  });

  test("only the listed codings are stored; \"none\" stores none", async () => {
    for (const [list, want] of [["br", ["br"]], ["none", undefined]] as const) {
      const h = await harness(`precompressed_list${list}`, { env: { ...NO_MEMO, COMPRESS_CACHE_ENCODINGS: list } });
      try {
        const { docId, key } = await bigDocument(h, `list${list}`);
        const miss = await h.request(`/documents/${docId}`);
        expect(serverTiming(miss).compress?.desc).toBe(want?.join("+"));
        expect(Object.keys(parseEntry((await h.redis.getBuffer(key))!)!.coded ?? {})).toEqual([...(want ?? [])]);
        const gzip = await h.request(`/documents/${docId}`, { headers: { "accept-encoding": "gzip" } });
        expect(cacheDesc(gzip)).toBe("hit");
        expect(serverTiming(gzip).compress?.desc).toBe("gzip");
      } finally {
        await h.close();
      }
    }
  });
});
