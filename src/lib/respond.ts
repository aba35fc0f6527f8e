import type { Context } from "hono";

/** Send JSON text that is already serialized (a cache hit) without parsing it again. */
export function sendJson(c: Context, json: string, status: 200 | 201 = 200): Response {
  return c.body(json, status, { "content-type": "application/json; charset=UTF-8" });
}
