import type { MiddlewareHandler } from "hono";
import { ApiError } from "../lib/errors";

/** 415 for a body-carrying request that is not JSON, before any validator reads the body. */
export function requireJson(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const m = c.req.method;
    if (m === "POST" || m === "PUT" || m === "PATCH") {
      const type = c.req.header("content-type") ?? "";
      if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
        throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
      }
    }
    await next();
  };
}
