import { Hono } from "hono";
import { errorBody } from "../lib/errors";
import { operatorAuth } from "../middleware/operator-auth";
import type { Observability } from "../obs";
import type { AppEnv, Auth } from "../types";

/**
 * /debug/*: operator views. Without DEBUG_TOKEN or an admin JWT as Bearer (operator-auth.ts) every
 * path here answers the same 404 as an unknown route, so a scan cannot tell that they exist.
 */
export function debugRouter(obs: Observability, auth: Auth, token: string | undefined) {
  return new Hono<AppEnv>()
    .use(
      "*",
      operatorAuth({
        auth,
        token,
        refuse: (c) => {
          c.set("unmatched", true);
          return c.json(errorBody(c, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
        },
      }),
      async function noStore(c, next) {
        await next();
        c.header("cache-control", "no-store");
      },
    )
    .get("/routes", (c) => c.json(obs.routes.snapshot()));
}
