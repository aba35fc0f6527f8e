import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { setMetric } from "hono/timing";
import { RequestStats, requestStore } from "../obs/context";
import type { Telemetry } from "../obs/events";

export interface RequestStatsOptions {
  telemetry: Telemetry;
  /** Keep each statement's text for this request (plan capture, N+1 detection). */
  capture?: (c: Parameters<MiddlewareHandler>[0]) => boolean;
}

/**
 * Opens the per-request accounting that the driver wrapper and the cache write into, and on the
 * way out adds `db` and `cache` entries for hono/timing's Server-Timing header (which must be
 * mounted before this) and announces the finished request to the telemetry subscribers.
 */
export function requestStats(opts: RequestStatsOptions): MiddlewareHandler {
  return async function requestStats(c, next) {
    const start = performance.now();
    const stats = new RequestStats(c.get("requestId") ?? "", opts.capture?.(c) ?? false);
    c.set("stats", stats);
    await requestStore.run(stats, next);
    stats.route = c.get("unmatched") ? "(unmatched)" : routePath(c, -1) || c.req.path;
    setMetric(c, "db", stats.dbMs, `${stats.queries} ${stats.queries === 1 ? "query" : "queries"}`, 2);
    if (stats.cacheResult) setMetric(c, "cache", stats.cacheMs, stats.cacheResult, 2);
    if (opts.telemetry.request.active) {
      opts.telemetry.request.emit({
        method: c.req.method,
        route: stats.route,
        status: c.res.status,
        totalMs: performance.now() - start,
        stats,
      });
    }
  };
}
