import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/app-env";

/**
 * Cache-Control on every response unless the route chose one:
 * - errors: `no-store` (a 404 cached by a browser would outlive the create that fixes it);
 * - public reads (GET/HEAD, no caller identity): `public, no-cache` — any cache may keep the
 *   body but must revalidate it with the ETag (a cheap 304), so a client never sees data older
 *   than the service's own cache after a write; a max-age would break that promise;
 * - anything authenticated (writes, /users/me): `private, no-store`.
 */
export function cacheControl(): MiddlewareHandler<AppEnv> {
  return async function cacheControl(c, next) {
    await next();
    const headers = c.res.headers;
    if (c.res.status >= 400) headers.set("cache-control", "no-store");
    else if (!headers.has("cache-control")) {
      const publicRead = (c.req.method === "GET" || c.req.method === "HEAD") && c.get("auth") === undefined;
      headers.set("cache-control", publicRead ? "public, no-cache" : "private, no-store");
    }
  };
}
