import type { Context } from "hono";
import { currentStats } from "../obs/context";

const JSON_TYPE = "application/json; charset=UTF-8";

/** Weak validator from a fast non-cryptographic hash: only has to change when the bytes do. */
const etagOf = (json: string) => `W/"${Bun.hash(json).toString(36)}-${json.length.toString(36)}"`;

function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  // Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
  const bare = tag.slice(2);
  return header.split(",").some((t) => {
    const v = t.trim();
    return v === tag || v === bare || `W/${v}` === tag;
  });
}

/**
 * Send JSON text that is already serialized (a cache hit is sent as stored, never re-parsed),
 * with an ETag and a 304 for a matching If-None-Match on GET. This replaces hono/etag, which
 * SHA-1s every response body through a stream: measured here at ~50 µs per request, more than
 * the rest of the middleware stack together, on a read that Redis answers in ~100 µs.
 */
export function sendJson(c: Context, json: string, status: 200 | 201 = 200): Response {
  // A value past its TTL (README "Grace"): visible to clients, not only in Server-Timing.
  if (currentStats()?.stale) c.header("X-Cache", "stale");
  if (c.req.method === "GET" && status === 200) {
    const tag = etagOf(json);
    c.header("ETag", tag);
    if (matches(c.req.header("if-none-match"), tag)) return c.body(null, 304);
  }
  return c.body(json, status, { "content-type": JSON_TYPE });
}
