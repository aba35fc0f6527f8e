import type { MiddlewareHandler } from "hono";
import { encodedBody, pickEncoding } from "../lib/respond";
import { compressionMemo, etagFor } from "../lib/encoding";
import type { AppEnv } from "../context/app-env";

export interface CompressOptions {
  /** Bodies smaller than this (UTF-8 bytes) are sent as they are. */
  minBytes: number;
  /** Upper bound of the memo of compressed bodies (lib/encoding.ts); 0 = none. */
  memoBytes: number;
}

const COMPRESSIBLE = /^(application\/(json|problem\+json|openmetrics-text)|text\/)/i;
const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;

/**
 * Content-Encoding negotiation (br, zstd, gzip; lib/encoding.ts) for every response with a body.
 * The cacheable reads do it themselves in sendJson (their ETag depends on the coding and the body
 * is already a string); this handles the rest after the handler — errors, writes, /users/me,
 * /metrics — and answers HEAD with the Content-Length the GET would have.
 *
 * Our own rather than hono/compress: that one offers gzip and deflate only (no brotli, no zstd),
 * streams through CompressionStream (chunked, so no Content-Length) and cannot apply its
 * threshold to a body without Content-Length, which hono's c.json never sets. A one-shot
 * synchronous encoder is the cheaper call for bodies of a few KB (bench/README.md).
 */
export function compress(opts: CompressOptions): MiddlewareHandler<AppEnv> {
  const compression = { minBytes: opts.minBytes, memo: compressionMemo(opts.memoBytes) };
  return async function compress(c, next) {
    c.set("compression", compression);
    await next();
    if (c.get("negotiated")) return;
    const res = c.res;
    const type = res.headers.get("content-type");
    if (!res.body || !type || !COMPRESSIBLE.test(type) || res.headers.has("content-encoding")) return;
    if (NO_TRANSFORM.test(res.headers.get("cache-control") ?? "")) return;
    const head = c.req.method === "HEAD";
    // Nothing to read unless it may be compressed or HEAD needs the length.
    if (!c.req.header("accept-encoding") && !head) {
      res.headers.append("Vary", "Accept-Encoding");
      return;
    }
    const body = new Uint8Array(await res.arrayBuffer());
    const encoding = pickEncoding(c, body);
    const { out, headers } = encodedBody(c, body, encoding, {});
    const etag = res.headers.get("etag");
    const replaced = new Response(out, res);
    replaced.headers.delete("content-length");
    for (const [k, v] of Object.entries(headers)) replaced.headers.set(k, v);
    replaced.headers.append("Vary", "Accept-Encoding");
    if (etag) replaced.headers.set("etag", etagFor(etag, encoding));
    c.res = undefined as never; // not merged with the old response's headers (it has them all)
    c.res = replaced;
  };
}
