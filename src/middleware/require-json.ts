import type { MiddlewareHandler } from "hono";
import { ApiError } from "../lib/errors";

const JSON_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/;

/** 415 for a body-carrying request that is not JSON, before any validator reads the body. */
export function requireJson(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const m = c.req.method;
    if (m === "POST" || m === "PUT" || m === "PATCH") {
      const type = c.req.header("content-type") ?? "";
      // The same test hono's validator applies, so whatever passes here is parsed as JSON there.
      if (!JSON_TYPE.test(type)) {
        throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
      }
    }
    await next();
  };
}
