import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync } from "node:zlib";
import { negotiate } from "../src/lib/encoding";
import { harness, serverTiming, type Harness } from "./support/harness";
import { insertDocuments } from "./support/http";
import { REDIS_URL } from "./support/env";
import { startService } from "./support/spawn";
import { bearer } from "./support/auth";

// Issue 13, compression: negotiation, threshold, Vary, per-coding ETags, compress;dur=, and real
// clients (curl --compressed, Bun fetch with manual decompression) against the real service.

let h: Harness;
let svc: Awaited<ReturnType<typeof startService>> | undefined;
let userId: number;
let docId: number;

beforeAll(async () => {
  h = await harness("compression");
  userId = (await (await h.request("/users", { method: "POST", as: "admin", json: { email: "c@example.com", name: "Zoë Ünïcode" } })).json()).id;
  docId = (await (await h.request("/documents", { method: "POST", as: userId, json: { title: "big", body: "¡compressible! ".repeat(400) } })).json()).id;
  await insertDocuments(
    h.dbUrl,
    Array.from({ length: 100 }, (_, i) => ({ userId, title: `Item ${i} — “quoted” ünïcödé`, createdAt: new Date(Date.parse("2024-01-01T00:00:00Z") + i * 1000) })),
  );
  svc = await startService({ DATABASE_URL: h.dbUrl, REDIS_URL, REDIS_KEY_PREFIX: h.prefix, DB_SEED_DEMO: "false", LOG_LEVEL: "info" });
});
afterAll(async () => {
  await svc?.stop();
  await h?.close();
});

describe("negotiate (RFC 9110 §12.5.3)", () => {
  test("quality values, exclusions, wildcard, identity", () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ["", undefined],
      ["identity", undefined],
      ["gzip", "gzip"],
      ["gzip, deflate, br, zstd", "br"],
      ["GZIP, BR", "br"],
      ["br;q=0, gzip", "gzip"],
      ["br;q=0.5, gzip;q=0.8", "gzip"],
      ["br;q=0.8, gzip;q=0.8, zstd;q=0.8", "br"],
      ["gzip;q=0", undefined],
      ["*", "br"],
      ["*;q=0", undefined],
      ["*;q=0.1, br;q=0", "zstd"],
      ["zstd;q=1.0, br;q=0.9", "zstd"],
      ["deflate", undefined],
      ["gzip;q=abc", undefined],
      ["identity;q=0", undefined],
    ];
    for (const [header, want] of cases) expect([header, negotiate(header)]).toEqual([header, want]);
  });
});

describe("in the app", () => {
  const list = () => `/users/${userId}/documents?limit=100`;

  test("a large body is compressed in the coding asked for, with Vary, a per-coding ETag and compress;dur=", async () => {
    const plain = await h.request(list());
    const json = await plain.text();
    expect(Buffer.byteLength(json)).toBeGreaterThan(1024);
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("Accept-Encoding");
    expect(serverTiming(plain).compress).toBeUndefined();
    const identity = plain.headers.get("etag")!;
    const decode: Record<string, (b: Uint8Array) => Uint8Array> = {
      br: (b) => new Uint8Array(brotliDecompressSync(b)),
      gzip: (b) => Bun.gunzipSync(b as Uint8Array<ArrayBuffer>),
      zstd: (b) => new Uint8Array(Bun.zstdDecompressSync(b)),
    };
    const tags = new Set([identity]);
    for (const coding of ["br", "gzip", "zstd"]) {
      const res = await h.request(list(), { headers: { "accept-encoding": coding } });
      expect(res.headers.get("content-encoding")).toBe(coding);
      expect(res.headers.get("vary")).toBe("Accept-Encoding");
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBeLessThan(Buffer.byteLength(json) / 3);
      expect(new TextDecoder().decode(decode[coding]!(bytes))).toBe(json);
      const st = serverTiming(res).compress;
      expect(st?.desc).toBe(coding);
      expect(st!.dur).toBeGreaterThanOrEqual(0);
      tags.add(res.headers.get("etag")!);
    }
    expect(tags.size).toBe(4);
  });

  test("a repeated uncached read (a list page) is sent from the memo of compressed bodies: same bytes, no encoder run", async () => {
    // Cached reads carry their compressed bytes in the cache entry (test/precompressed.test.ts);
    // a list page is built per request, so the memo is what spares its encoder.
    const path = list();
    // A JSON no earlier test compressed (the first test sent this page in br already).
    await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, json: { title: "memo" } });
    const plain = await (await h.request(path)).text();
    const first = await h.request(path, { headers: { "accept-encoding": "br" } });
    const bytes = new Uint8Array(await first.arrayBuffer());
    expect(serverTiming(first).compress?.desc).toBe("br");
    for (let i = 0; i < 3; i++) {
      const again = await h.request(path, { headers: { "accept-encoding": "br" } });
      expect(again.headers.get("content-encoding")).toBe("br");
      expect(again.headers.get("etag")).toBe(first.headers.get("etag"));
      // No compress entry: the encoder did not run for this response.
      expect(serverTiming(again).compress).toBeUndefined();
      const got = new Uint8Array(await again.arrayBuffer());
      expect(Buffer.compare(got, bytes)).toBe(0);
      expect(new TextDecoder().decode(brotliDecompressSync(got))).toBe(plain);
    }
    // A write changes the JSON, so its ETag, so the memo key: the next read is compressed afresh.
    await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, json: { title: "changed" } });
    const changed = await h.request(path, { headers: { "accept-encoding": "br" } });
    expect(serverTiming(changed).compress?.desc).toBe("br");
    expect(JSON.parse(new TextDecoder().decode(brotliDecompressSync(new Uint8Array(await changed.arrayBuffer())))).items[0].title).toBe("changed");
  });

  test("a cached read in a coding its entry does not store (zstd) is compressed once, then sent from the memo", async () => {
    const path = `/documents/${docId}`;
    const plain = await (await h.request(path)).text();
    const first = await h.request(path, { headers: { "accept-encoding": "zstd" } });
    expect(serverTiming(first).compress?.desc).toBe("zstd");
    const again = await h.request(path, { headers: { "accept-encoding": "zstd" } });
    expect(serverTiming(again).compress).toBeUndefined();
    expect(new TextDecoder().decode(Bun.zstdDecompressSync(new Uint8Array(await again.arrayBuffer())))).toBe(plain);
  });

  test("below COMPRESS_MIN_BYTES nothing is compressed, but the response still varies", async () => {
    const res = await h.request(`/users/${userId}`, { headers: { "accept-encoding": "br, gzip" } });
    expect(Buffer.byteLength(await res.clone().text())).toBeLessThan(1024);
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(res.headers.get("vary")).toBe("Accept-Encoding");
    expect(serverTiming(res).compress).toBeUndefined();
    const small = await harness("compression_min", { env: { COMPRESS_MIN_BYTES: "100" } });
    try {
      const id = (await (await small.request("/users", { method: "POST", as: "admin", json: { email: "m@example.com", name: "M" } })).json()).id;
      const compressed = await small.request(`/users/${id}`, { headers: { "accept-encoding": "gzip" } });
      expect(compressed.headers.get("content-encoding")).toBe("gzip");
    } finally {
      await small.close();
    }
  });

  test("responses other than the cached reads are negotiated too: a write's answer, /users/me, an error", async () => {
    const patched = await h.request(`/documents/${docId}`, { method: "PATCH", as: userId, headers: { "accept-encoding": "gzip" }, json: { status: "published" } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("content-encoding")).toBe("gzip");
    expect(patched.headers.get("vary")).toBe("Accept-Encoding");
    const body = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await patched.arrayBuffer()))));
    expect(body.status).toBe("published");
    const me = await h.request("/users/me", { headers: { ...(await bearer(userId)), "accept-encoding": "gzip" } });
    expect(me.headers.get("content-encoding")).toBeNull(); // small
    expect(me.headers.get("vary")).toBe("Accept-Encoding");
    const err = await h.request("/users/abc", { headers: { "accept-encoding": "gzip" } });
    expect(err.status).toBe(400);
    expect(err.headers.get("vary")).toBe("Accept-Encoding");
  });
});

describe("real clients against the spawned service", () => {
  const curl = async (...args: string[]) => {
    const p = Bun.spawn(["curl", "-sS", "--fail-with-body", ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).bytes(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`curl ${args.join(" ")}: ${code} ${err}`);
    return out;
  };

  test("curl --compressed: each coding decodes to the plain body byte for byte", async () => {
    for (const path of [`/users/${userId}/documents?limit=100`, `/documents/${docId}`, `/users/${userId}`, "/flags"]) {
      const url = svc!.url + path;
      const plain = await curl(url);
      expect(plain.byteLength).toBeGreaterThan(0);
      // curl's own Accept-Encoding (deflate, gzip, br, zstd), then each coding alone.
      for (const accept of [undefined, "gzip", "br", "zstd"]) {
        const args = accept ? ["-H", `Accept-Encoding: ${accept}`] : [];
        const decoded = await curl("--compressed", ...args, url);
        expect({ path, accept, equal: Buffer.compare(decoded, plain) === 0 }).toEqual({ path, accept, equal: true });
        const headers = new TextDecoder().decode(await curl("--compressed", ...args, "-o", "/dev/null", "-D", "-", url)).toLowerCase();
        expect(headers).toContain("vary: accept-encoding");
        if (plain.byteLength >= 1024) expect(headers).toContain(`content-encoding: ${accept ?? "br"}`);
        else expect(headers).not.toContain("content-encoding");
      }
    }
  });

  test("Bun fetch with an explicit Accept-Encoding and manual decompression; Content-Length is the compressed size", async () => {
    const url = `${svc!.url}/users/${userId}/documents?limit=100`;
    const plain = await (await fetch(url)).text();
    const res = await fetch(url, { headers: { "accept-encoding": "br, gzip" }, decompress: false });
    expect(res.headers.get("content-encoding")).toBe("br");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(bytes.byteLength);
    expect(new TextDecoder().decode(brotliDecompressSync(bytes))).toBe(plain);
    const gz = await fetch(url, { headers: { "accept-encoding": "br;q=0, gzip" }, decompress: false });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toBe(plain);
    // The memo's bytes sent again over a real socket (the second br answer is the memo's).
    for (let i = 0; i < 2; i++) {
      const again = await fetch(url, { headers: { "accept-encoding": "br" }, decompress: false });
      expect(new TextDecoder().decode(brotliDecompressSync(new Uint8Array(await again.arrayBuffer())))).toBe(plain);
    }
    // Revalidation with the coding's tag: 304 over the wire.
    const again = await fetch(url, { headers: { "accept-encoding": "br, gzip", "if-none-match": res.headers.get("etag")! }, decompress: false });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(res.headers.get("etag"));
  });
});
