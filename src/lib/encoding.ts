import { LRUCache } from "lru-cache";
import type { Compression } from "../context/app-env";
import { brotliCompressSync, constants } from "node:zlib";
import { currentStats } from "../context/request";

/** The content codings the service produces, in order of preference at equal quality. */
export const ENCODINGS = ["br", "zstd", "gzip"] as const;
export type Encoding = (typeof ENCODINGS)[number];

/**
 * Levels for compressing per response (not once at build time): brotli 4, zstd 3 and gzip 6
 * give ~10× on a 100-item list page in 20–80 µs each here (bench/README.md "Compression");
 * brotli 5+ saves another ~15 % for twice the CPU.
 */
type Input = string | Uint8Array<ArrayBuffer>;
const encoders: Record<Encoding, (data: Input) => Uint8Array> = {
  br: (data) =>
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 4,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: typeof data === "string" ? data.length : data.byteLength,
      },
    }),
  zstd: (data) => Bun.zstdCompressSync(data, { level: 3 }),
  gzip: (data) => Bun.gzipSync(data, { level: 6 }),
};

/** Where encode() accounts its work: the request's Server-Timing `compress` entry. */
interface Timing {
  compressMs: number;
  /**
   * The codings produced in this request: "br", or "br+gzip" on a cache fill (not a comma: the
   * header's entries are comma-separated, and naive parsers split inside quotes).
   */
  encoding: string | undefined;
}

/** Compresses `data` (a string is taken as UTF-8) and adds the time to the request's Server-Timing. */
export function encode(data: Input, encoding: Encoding, timing: Timing | undefined): Uint8Array {
  const start = performance.now();
  const out = encoders[encoding](data);
  if (timing) {
    timing.compressMs += performance.now() - start;
    timing.encoding = timing.encoding ? `${timing.encoding}+${encoding}` : encoding;
  }
  return out;
}

/**
 * For cache-aside's `precompress`: a JSON body at least `minBytes` long (COMPRESS_MIN_BYTES, the
 * size under which nothing is sent compressed) in each of `encodings` (COMPRESS_CACHE_ENCODINGS),
 * made once when the entry is filled so a hit in one of them runs no encoder; the time goes to
 * the filling request's Server-Timing. Default br and gzip: br is what browsers and curl get
 * (first at equal quality), gzip what every other client accepts; zstd alone is rare, and is
 * compressed per response (then kept in the memo).
 */
export function precompressor(minBytes: number, encodings: readonly Encoding[] = ["br", "gzip"]) {
  return (json: string): Record<string, Uint8Array> | undefined => {
    if (!encodings.length || (json.length < minBytes && Buffer.byteLength(json) < minBytes)) return undefined;
    const timing = currentStats();
    const coded: Record<string, Uint8Array> = {};
    for (const encoding of encodings) coded[encoding] = encode(json, encoding, timing);
    return coded;
  };
}

/**
 * The coding to send for an Accept-Encoding header (RFC 9110 §12.5.3), or undefined for identity.
 * Quality values are honoured: q=0 excludes a coding, `*` stands for every coding not named, the
 * highest q wins and ties go to ENCODINGS' order. Identity is always acceptable as a fallback
 * (even when `identity;q=0` excludes it: a 406 for a JSON API helps nobody).
 */
export function negotiate(header: string | undefined | null): Encoding | undefined {
  if (!header) return undefined;
  let best: Encoding | undefined;
  let bestQ = 0;
  let star: number | undefined;
  const named = new Map<string, number>();
  for (const part of header.split(",")) {
    const [token, ...params] = part.split(";");
    const coding = token!.trim().toLowerCase();
    if (!coding) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=");
      if (k?.trim().toLowerCase() === "q") {
        const n = Number(v?.trim());
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      }
    }
    if (coding === "*") star = q;
    else named.set(coding, q);
  }
  for (const coding of ENCODINGS) {
    const q = named.get(coding) ?? star ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

/**
 * Entity tags per coding: the identity ETag `W/"<hash>-<len>"` of the JSON, and for a compressed
 * body the same with `-br`, `-zstd` or `-gz` inside the quotes. Distinct tags keep caches from
 * answering one coding's 304 with another's bytes; the hash part names the JSON either way.
 */
const SUFFIX: Record<Encoding, string> = { br: "-br", zstd: "-zstd", gzip: "-gz" };
const SUFFIXED = /-(br|zstd|gz)"$/;

export const etagFor = (tag: string, encoding: Encoding | undefined) =>
  encoding ? `${tag.slice(0, -1)}${SUFFIX[encoding]}"` : tag;

/** The tag without W/ and without a coding suffix: what names the JSON itself. */
const baseOf = (tag: string) => {
  const t = tag.startsWith("W/") ? tag.slice(2) : tag;
  return t.replace(SUFFIXED, '"');
};

/**
 * The entry of an If-None-Match / If-Match list that names the JSON of `tag` (an identity ETag),
 * in any coding, strong or weak (weak comparison, RFC 9110 §8.8.3.2); "*" matches anything.
 * Returns the matching entry as sent, or undefined.
 */
export function matchingTag(header: string | undefined, tag: string): string | undefined {
  if (!header) return undefined;
  const want = baseOf(tag);
  for (const part of header.split(",")) {
    const v = part.trim();
    if (v === "*" || baseOf(v) === want) return v;
  }
  return undefined;
}

/**
 * The memo of compressed representations: bytes of a compressed body keyed by that body's ETag
 * (the JSON's hash and length plus the coding), so a repeated read that is not a cache entry — a
 * list page — or a cache hit in a coding not stored with it (zstd) is sent precompressed, with no
 * encoder work. Bounded by bytes, least recently used first out.
 */
export function compressionMemo(maxBytes: number): Compression["memo"] {
  if (maxBytes <= 0) return undefined;
  return new LRUCache<string, Uint8Array<ArrayBuffer>>({
    maxSize: maxBytes,
    // The key (~20 chars) and the Map/LRU bookkeeping (~100 bytes) count too.
    sizeCalculation: (bytes, key) => bytes.byteLength + key.length * 2 + 100,
  });
}
