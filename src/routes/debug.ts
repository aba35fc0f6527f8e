import { Hono } from "hono";
import { errorBody } from "../lib/errors";
import type { Observability } from "../obs";
import { debugAuthorized } from "../obs/token";
import type { AppEnv } from "../types";

/**
 * /debug/*: operator views. Without DEBUG_TOKEN configured and presented (Bearer or
 * X-Debug-Token) every path here answers the same 404 as an unknown route, so a scan cannot
 * tell that the endpoints exist.
 */
export function debugRouter(obs: Observability, token: string | undefined) {
  return new Hono<AppEnv>()
    .use("*", async function debugGuard(c, next) {
      if (!debugAuthorized(c, token)) {
        c.set("unmatched", true);
        return c.json(errorBody(c, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
      }
      await next();
      c.header("cache-control", "no-store");
    })
    .get("/routes", (c) => c.json(obs.routes.snapshot()));
}
