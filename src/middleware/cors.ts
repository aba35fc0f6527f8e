import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/** Request headers a browser app may send cross-origin (anything else fails its preflight). */
export const CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "If-None-Match", "If-Match", "X-Request-Id", "Idempotency-Key", "Hotpath-LSN"];
/** Response headers its JavaScript may read, beyond the CORS-safelisted ones. */
export const CORS_EXPOSE_HEADERS = ["Server-Timing", "X-Request-Id", "ETag", "Retry-After", "Location", "WWW-Authenticate", "Hotpath-LSN", "Allow"];
const READS = ["GET", "HEAD"];
const ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/** CORS_ORIGINS parsed: "*" (reads from anywhere) or exact origins. */
export type CorsOrigins = "*" | readonly string[];

export interface CorsPolicyOptions {
  origins: CorsOrigins;
  /** Access-Control-Max-Age: how long a browser may reuse a preflight answer. */
  maxAgeS: number;
}

/**
 * The method a CORS preflight asks about ("" when it names none), or undefined when this is not a
 * preflight. The API has no OPTIONS routes, so every OPTIONS from a browser origin is one.
 */
const preflightMethod = (c: Context) =>
  c.req.method === "OPTIONS" && c.req.header("origin") !== undefined
    ? (c.req.header("access-control-request-method") ?? "")
    : undefined;

/**
 * hono/cors, applied only where CORS_ORIGINS allows it, so that an origin that is not allowed
 * gets no CORS header at all (hono's cors would still send Access-Control-Expose-Headers).
 * Preflights are answered here, before the body checks and the 404 handler; one that is refused
 * goes on to allowed-methods.ts, which answers every OPTIONS with a 204 (and `Allow` on a known
 * path) — without CORS headers, which is what makes the browser refuse the call.
 *
 * No Access-Control-Allow-Credentials: the API authenticates with a bearer token, never a
 * cookie, so a page on another origin has nothing of the user's to send along.
 */
export function corsPolicy({ origins, maxAgeS }: CorsPolicyOptions): MiddlewareHandler {
  const shared = { allowHeaders: CORS_ALLOW_HEADERS, exposeHeaders: CORS_EXPOSE_HEADERS, maxAge: maxAgeS };

  if (origins === "*") {
    // Any page may read; none may write (ACAO: * cannot carry credentials either). The answer
    // depends on the method, not on the origin, so no Vary: Origin.
    const allowReads = cors({ ...shared, origin: "*", allowMethods: READS });
    return async function corsPolicy(c, next) {
      const asked = preflightMethod(c);
      if (asked !== undefined) c.set("preflight", true);
      if (READS.includes(asked ?? c.req.method)) return allowReads(c, next);
      // Refused: no CORS headers; answered like any OPTIONS (allowed-methods.ts: 204 with Allow).
      if (asked !== undefined) return next();
      await next();
    };
  }

  const listed = new Set(origins);
  const allowListed = cors({ ...shared, origin: [...origins], allowMethods: ALL_METHODS });
  return async function corsPolicy(c, next) {
    const preflight = preflightMethod(c) !== undefined;
    if (preflight) c.set("preflight", true);
    const origin = c.req.header("origin");
    if (origin !== undefined && listed.has(origin)) return allowListed(c, next); // adds Vary: Origin
    if (preflight) {
      c.header("Vary", "Origin");
      return next(); // refused: no CORS headers; allowed-methods.ts answers it (204 with Allow)
    }
    await next();
    // A listed origin would have got CORS headers: caches must key this answer by Origin too.
    // (On c.res directly: c.header() after next() copies the whole response first.)
    c.res.headers.append("Vary", "Origin");
  };
}

/**
 * The Timing-Allow-Origin rule: TIMING_ALLOW_ORIGIN as given when set; otherwise it follows
 * CORS_ORIGINS. The header is per response, so with a list the request's origin is echoed when
 * listed (like Access-Control-Allow-Origin) rather than the whole list being disclosed.
 */
export function timingAllowOrigin(
  fixed: string | undefined,
  origins: CorsOrigins | undefined,
): ((c: Context) => string | undefined) | undefined {
  if (fixed) return () => fixed;
  if (origins === "*") return () => "*";
  if (!origins) return undefined;
  const listed = new Set(origins);
  return (c) => {
    const origin = c.req.header("origin");
    return origin !== undefined && listed.has(origin) ? origin : undefined;
  };
}
