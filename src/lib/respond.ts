import type { Context } from "hono";
import type { AppEnv } from "../context/app-env";
import { encode, etagFor, matchingTag, negotiate, type Encoding } from "./encoding";
import { currentStats } from "../context/request";

export const JSON_TYPE = "application/json; charset=UTF-8";

/** Weak validator from a fast non-cryptographic hash: only has to change when the bytes do. */
export const etagOf = (json: string) => `W/"${Bun.hash(json).toString(36)}-${json.length.toString(36)}"`;

/** UTF-8 length of `text` ≥ min, without measuring when the UTF-16 length already decides. */
const atLeast = (text: string, min: number) => text.length >= min || (text.length * 3 >= min && Buffer.byteLength(text) >= min);

/**
 * The coding for this body (undefined: identity): none unless compression is on
 * (middleware/compress.ts sets the threshold), the body reaches COMPRESS_MIN_BYTES and the
 * client accepts one.
 */
export function pickEncoding(c: Context<AppEnv>, body: string | Uint8Array): Encoding | undefined {
  const opts = c.get("compression");
  if (opts === undefined) return undefined;
  const big = typeof body === "string" ? atLeast(body, opts.minBytes) : body.byteLength >= opts.minBytes;
  return big ? negotiate(c.req.header("accept-encoding")) : undefined;
}

/**
 * The body in the chosen coding, with Content-Encoding (and Content-Length for HEAD, see below).
 * `stored`: the body already in that coding (a cache entry's); else with `memoKey` (the compressed
 * body's ETag) a body compressed before is taken from the memo.
 */
export function encodedBody(
  c: Context<AppEnv>,
  body: string | Uint8Array<ArrayBuffer>,
  encoding: Encoding | undefined,
  headers: Record<string, string>,
  memoKey?: string,
  stored?: Uint8Array,
) {
  let out: string | Uint8Array<ArrayBuffer> = body;
  if (encoding) {
    const memo = memoKey === undefined || stored ? undefined : c.get("compression")?.memo;
    const kept = stored ?? memo?.get(memoKey!);
    if (kept) out = kept as Uint8Array<ArrayBuffer>;
    else {
      out = encode(body, encoding, c.get("stats")) as Uint8Array<ArrayBuffer>;
      memo?.set(memoKey!, out);
    }
    headers["content-encoding"] = encoding;
  }
  // hono answers HEAD with the GET's headers and no body, and Bun then sends Content-Length: 0
  // unless one is set: so HEAD states the length the GET's body has.
  if (c.req.method === "HEAD") headers["content-length"] = String(typeof out === "string" ? Buffer.byteLength(out) : out.byteLength);
  return { out, headers };
}

/**
 * Send JSON text that is already serialized (a cache hit is sent as stored, never re-parsed),
 * with an ETag and a 304 for a matching If-None-Match on GET and HEAD. This replaces hono/etag,
 * which SHA-1s every response body through a stream: measured here at ~50 µs per request, more
 * than the rest of the middleware stack together, on a read that Redis answers in ~100 µs.
 *
 * Compressed bodies get their coding's ETag (encoding.ts); an If-None-Match naming the same
 * JSON in any coding is a 304 that repeats the tag the client holds. `coded`: the JSON's
 * compressed representations stored with it in the cache (cache/entry.ts), sent as they are.
 */
export function sendJson(c: Context<AppEnv>, json: string, status: 200 | 201 = 200, coded?: Readonly<Record<string, Uint8Array>>): Response {
  // A value past its TTL (README "Grace"): visible to clients, not only in Server-Timing.
  if (currentStats()?.stale) c.header("X-Cache", "stale");
  if (c.get("compression") !== undefined) {
    // Negotiable whatever this body's size: the next one under this URL may be large.
    c.set("negotiated", true);
    c.header("Vary", "Accept-Encoding", { append: true });
  }
  const encoding = pickEncoding(c, json);
  let current: string | undefined;
  if ((c.req.method === "GET" || c.req.method === "HEAD") && status === 200) {
    const tag = etagOf(json);
    current = etagFor(tag, encoding);
    const held = matchingTag(c.req.header("if-none-match"), tag);
    if (held !== undefined) {
      c.header("ETag", held === "*" ? current : held.startsWith("W/") ? held : `W/${held}`);
      return c.body(null, 304);
    }
    c.header("ETag", current);
  }
  // The coding's ETag names these exact bytes: the memo key of the compressed body.
  const { out, headers } = encodedBody(c, json, encoding, { "content-type": JSON_TYPE }, current, encoding && coded?.[encoding]);
  return c.body(out, status, headers);
}
