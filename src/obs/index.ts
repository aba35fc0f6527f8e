import { currentStats } from "../context/request";
import type { RequestEvent, Telemetry } from "../context/telemetry";
import type { Env } from "../env";
import type { Logger } from "../lib/log";
import { createMetrics, HTTP_BUCKETS } from "./metrics";
import { fingerprinter } from "./normalize";
import { createQueryWatch } from "./query-watch";
import { requestLogger } from "./request-log";
import { createRequestSeries } from "./request-series";
import { createRouteTable } from "./route-table";
import type { Tracer } from "./tracer";

// One measurement, many views: the driver wrapper, the cache and requestStats emit on the app's
// telemetry; the latency table, Prometheus, the slow-query watch and the request log only
// subscribe. Nothing here times anything itself.

/** Scrapes and debug calls are not the service's traffic; plan captures run EXPLAINs inside. */
const selfObserved = (e: RequestEvent) =>
  e.route === "/metrics" || e.route.startsWith("/debug/") || e.stats.captureStatements;

/**
 * What the views are built from, passed in by app.ts: obs/ imports no database, cache or auth
 * module, and nothing above it (test/layers.test.ts).
 */
export interface ObservabilityInputs {
  env: Pick<Env, "LOG_LEVEL" | "SLOW_QUERY_MS">;
  telemetry: Telemetry;
  tracer?: Tracer;
  /** The process's one logger (lib/log.ts). */
  log: Logger;
  /** Statement names by SQL text (db/hot-queries.ts statementNames): metric and span labels. */
  statementNames: ReadonlyMap<string, string>;
  /** Read at scrape time: the pool queue, the rate limits' fail-open counts, the cache's L1. */
  database: Parameters<typeof createMetrics>[1];
  limits: Parameters<typeof createMetrics>[2];
  cache?: Parameters<typeof createMetrics>[3];
}

export function createObservability(inputs: ObservabilityInputs) {
  const { env, telemetry, database, tracer, log } = inputs;
  // One series per request, two views of it: the Prometheus histogram and the route table.
  const requests = createRequestSeries(HTTP_BUCKETS);
  const metrics = createMetrics(requests, database, inputs.limits, inputs.cache);
  const routes = createRouteTable(requests);
  const fingerprint = fingerprinter(inputs.statementNames);
  const watch = createQueryWatch({ slowMs: env.SLOW_QUERY_MS, log, onRepeat: metrics.onRepeat });
  const requestLine = requestLogger(log);

  // Subscribed for the app's lifetime: the telemetry is the app's own (createTelemetry), so the
  // listeners go when the app does.
  telemetry.query.on((e) => {
    const fp = fingerprint(e.sql);
    metrics.onQuery(fp.label, e.durMs, e.error !== undefined);
    watch.onQuery(e, fp);
    if (tracer && e.stats?.trace) tracer.query(e.stats.trace, e, fp.label);
  });
  telemetry.cache.on(metrics.onCache);
  telemetry.request.on((e) => {
    if (!selfObserved(e)) requests.record(e);
    watch.onRequest(e);
    requestLine?.(e);
    if (tracer && e.stats.trace) tracer.endRequest(e.stats.trace, e);
  });
  // Listeners run synchronously inside the emit, so the request's stats are the current ones.
  if (tracer) {
    telemetry.cache.on((e) => {
      const trace = currentStats()?.trace;
      if (trace) tracer.cache(trace, e);
    });
  }

  return {
    /** /metrics: text() to serve, json() for the workers' sum, contentType. */
    metrics: { text: metrics.text, json: metrics.json, contentType: metrics.contentType },
    routes,
  };
}

export type Observability = ReturnType<typeof createObservability>;
