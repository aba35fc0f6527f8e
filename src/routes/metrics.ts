import { Hono } from "hono";
import { errorBody } from "../lib/errors";
import type { Observability } from "../obs";
import { presentedToken, tokenMatches } from "../obs/token";
import type { AppEnv } from "../types";

/** GET /metrics in the Prometheus text format; open unless METRICS_TOKEN is set (then Bearer). */
export function metricsRouter(obs: Observability, token: string | undefined) {
  return new Hono<AppEnv>().get("/metrics", async (c) => {
    if (token !== undefined && !tokenMatches(presentedToken(c), token)) {
      c.header("www-authenticate", 'Bearer realm="metrics"');
      return c.json(errorBody(c, "unauthorized", "metrics need the bearer token (METRICS_TOKEN)"), 401);
    }
    return c.body(await obs.registry.metrics(), 200, { "content-type": obs.registry.contentType, "cache-control": "no-store" });
  });
}
