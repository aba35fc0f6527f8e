import type { MiddlewareHandler } from "hono";
import { ApiError } from "../lib/errors";

const JSON_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/;

/**
 * 415 for a request body that is not JSON, before any validator reads the body. Mounted only on
 * the methods that carry one (app.ts), so it does not check the method again.
 */
export function requireJson(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const type = c.req.header("content-type") ?? "";
    // The same test hono's validator applies, so whatever passes here is parsed as JSON there.
    if (!JSON_TYPE.test(type)) {
      throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
    }
    await next();
  };
}
