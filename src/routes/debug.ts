import { Hono } from "hono";
import { errorBody } from "../lib/errors";
import type { Observability } from "../obs";
import { operatorAuthorized, type Auth } from "../auth/authorize";
import type { AppEnv } from "../context/app-env";

/**
 * /debug/*: operator views. Without DEBUG_TOKEN (Bearer or X-Debug-Token) or an admin JWT every
 * path here answers the same 404 as an unknown route, so a scan cannot tell that they exist.
 */
export function debugRouter(obs: Observability, auth: Auth, token: string | undefined) {
  return new Hono<AppEnv>()
    .use("*", async function debugGuard(c, next) {
      if (!(await operatorAuthorized(c, auth, token, "x-debug-token"))) {
        c.set("unmatched", true);
        return c.json(errorBody(c, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
      }
      await next();
      c.header("cache-control", "no-store");
    })
    .get("/routes", (c) => c.json(obs.routes.snapshot()));
}
