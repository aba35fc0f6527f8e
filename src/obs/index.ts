import { statementNames } from "../db/hot-queries";
import { logger } from "../lib/log";
import type { Deps } from "../types";
import { currentStats } from "./context";
import type { RequestEvent } from "./events";
import { createMetrics, HTTP_BUCKETS } from "./metrics";
import { fingerprinter } from "./normalize";
import { createQueryWatch } from "./query-watch";
import { requestLogger } from "./request-log";
import { createRequestSeries } from "./request-series";
import { createRouteTable } from "./route-table";

// One measurement, many views: the driver wrapper, the cache and requestStats emit on the app's
// telemetry; the latency table, Prometheus, the slow-query watch and the request log only
// subscribe. Nothing here times anything itself.

/** Scrapes and debug calls are not the service's traffic; plan captures run EXPLAINs inside. */
const selfObserved = (e: RequestEvent) =>
  e.route === "/metrics" || e.route.startsWith("/debug/") || e.stats.captureStatements;

export function createObservability(deps: Deps) {
  const { env, telemetry, database, queries, tracer } = deps;
  const log = logger(env.LOG_LEVEL, deps.logWrite);
  // One series per request, two views of it: the Prometheus histogram and the route table.
  const requests = createRequestSeries(HTTP_BUCKETS);
  const metrics = createMetrics(requests, database, deps.auth.limits, deps.cache);
  const routes = createRouteTable(requests);
  const fingerprint = fingerprinter(statementNames(queries));
  const watch = createQueryWatch({ slowMs: env.SLOW_QUERY_MS, log, onRepeat: metrics.onRepeat });
  const requestLine = requestLogger(env.LOG_LEVEL, deps.logWrite);

  const unsubscribe = [
    telemetry.query.on((e) => {
      const fp = fingerprint(e.sql);
      metrics.onQuery(fp.label, e.durMs, e.error !== undefined);
      watch.onQuery(e, fp);
      if (tracer && e.stats?.trace) tracer.query(e.stats.trace, e, fp.label);
    }),
    telemetry.cache.on(metrics.onCache),
    telemetry.request.on((e) => {
      if (!selfObserved(e)) requests.record(e);
      watch.onRequest(e);
      requestLine?.(e);
      if (tracer && e.stats.trace) tracer.endRequest(e.stats.trace, e);
    }),
  ];
  // Listeners run synchronously inside the emit, so the request's stats are the current ones.
  if (tracer) {
    unsubscribe.push(
      telemetry.cache.on((e) => {
        const trace = currentStats()?.trace;
        if (trace) tracer.cache(trace, e);
      }),
    );
  }

  return {
    /** /metrics: text() to serve, json() for the workers' sum, contentType. */
    metrics: { text: metrics.text, json: metrics.json, contentType: metrics.contentType },
    routes,
    close(): void {
      for (const off of unsubscribe) off();
    },
  };
}

export type Observability = ReturnType<typeof createObservability>;
