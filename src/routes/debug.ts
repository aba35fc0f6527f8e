import { $, createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { errorBody } from "../lib/errors";
import { errors, ok, openApiRouter, served } from "../lib/openapi";
import { operatorAuth } from "../middleware/operator-auth";
import type { Observability } from "../obs";
import type { Auth } from "../auth/authorize";

const routesRoute = createRoute({
  method: "get",
  path: "/routes",
  tags: ["operations"],
  summary: "Per-route latency quantiles, statement and cache counts (INSTRUMENTATION=on, DEBUG_TOKEN or an admin JWT as Bearer)",
  description: "Without the token or an admin JWT this answers the same 404 as an unknown path.",
  security: [{ operatorToken: [] }, { bearer: [] }],
  responses: {
    200: ok(z.unknown(), "The route table"),
    ...errors(...served, 404),
  },
});

/**
 * /debug/*: operator views. Without DEBUG_TOKEN or an admin JWT as Bearer (operator-auth.ts) every
 * path here answers the same 404 as an unknown route, so a scan cannot tell that they exist.
 */
export function debugRouter(obs: Observability, auth: Auth, token: string | undefined) {
  return $(
    openApiRouter().use(
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
    ),
  ).openapi(routesRoute, (c) => c.json(obs.routes.snapshot()));
}
