import { createRoute } from "@hono/zod-openapi";
import { challenge } from "../auth/verify";
import type { Env } from "../env";
import { errorBody } from "../lib/errors";
import { errors, openApiRouter, served, textAnswer } from "../lib/openapi";
import { operatorAuth } from "../middleware/operator-auth";
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
 * GET /metrics in the Prometheus text format: METRICS_TOKEN or an admin JWT as Bearer (the
 * operator rule, operator-auth.ts), or open to anyone with METRICS_PUBLIC=true.
 */
export function metricsRouter(obs: Observability, auth: Auth, env: Pick<Env, "METRICS_TOKEN" | "METRICS_PUBLIC">, workers?: WorkerLink) {
  // With WORKERS=N a scrape reaches one worker: it answers with the sum over all of them.
  workers?.provide(() => obs.metrics.json());
  const router = openApiRouter();
  if (!env.METRICS_PUBLIC) {
    router.use(
      "/metrics",
      operatorAuth({
        auth,
        token: env.METRICS_TOKEN,
        refuse: (c) =>
          c.json(errorBody(c, "unauthorized", "metrics need METRICS_TOKEN or an admin token as Bearer"), 401, {
            "www-authenticate": challenge(),
          }),
      }),
    );
  }
  return router.openapi(metricsRoute, async (c) => {
    const text = workers ? await workers.metrics() : await obs.metrics.text();
    return c.body(text, 200, { "content-type": obs.metrics.contentType, "cache-control": "no-store" });
  });
}
