import { createRoute } from "@hono/zod-openapi";
import { operatorAuthorized } from "../auth/authorize";
import { challenge } from "../auth/verify";
import type { Env } from "../env";
import { errorBody } from "../lib/errors";
import { errors, openApiRouter, served, textAnswer } from "../lib/openapi";
import type { Observability } from "../obs";
import type { Auth } from "../auth/authorize";
import type { WorkerLink } from "../workers/link";

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Prometheus metrics (INSTRUMENTATION=on): METRICS_TOKEN or an admin JWT as Bearer, or anyone with METRICS_PUBLIC=true",
  security: [{ operatorToken: [] }, { bearer: [] }],
  responses: {
    200: textAnswer("The Prometheus text format", "text/plain"),
    ...errors(...served, 401),
  },
});

/**
 * GET /metrics in the Prometheus text format: METRICS_TOKEN or an admin JWT as Bearer, or open
 * to anyone with METRICS_PUBLIC=true.
 */
export function metricsRouter(obs: Observability, auth: Auth, env: Pick<Env, "METRICS_TOKEN" | "METRICS_PUBLIC">, workers?: WorkerLink) {
  // With WORKERS=N a scrape reaches one worker: it answers with the sum over all of them.
  workers?.provide(() => obs.registry.getMetricsAsJSON());
  return openApiRouter().openapi(metricsRoute, async (c) => {
    if (!env.METRICS_PUBLIC && !(await operatorAuthorized(c, auth, env.METRICS_TOKEN))) {
      return c.json(errorBody(c, "unauthorized", "metrics need METRICS_TOKEN or an admin token as Bearer"), 401, {
        "www-authenticate": challenge(),
      });
    }
    const text = workers ? await workers.metrics() : await obs.registry.metrics();
    return c.body(text, 200, { "content-type": obs.registry.contentType, "cache-control": "no-store" });
  });
}
