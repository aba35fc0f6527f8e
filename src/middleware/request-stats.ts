import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { RequestStats, requestStore } from "../context/request";
import type { Telemetry } from "../context/telemetry";

export interface RequestStatsOptions {
  telemetry: Telemetry;
  /** Keep each statement's text for this request (plan capture, N+1 detection). */
  capture?: (c: Context) => boolean;
  /** Timing-Allow-Origin for this response, so browser code on another origin may read the entries. */
  timingAllowOrigin?: (c: Context) => string | undefined;
}

/** nginx's status for "the client closed the connection before the response": never sent, only counted. */
export const CLIENT_CLOSED_REQUEST = 499;

const plural = (n: number) => (n === 1 ? "1 query" : `${n} queries`);

/** Rounded as the header shows it, so the entries a reader adds up are the ones it sees. */
const ms = (n: number) => Math.round(n * 100) / 100;

/**
 * db, pool, cache, app and total; app is total minus the other three, so for a sequential
 * request pool + db + cache + app = total (to the rounding of the entries). db and pool are sums
 * over the request's statements: statements run in parallel (Promise.all) count each, so their
 * sum can exceed the wall time they took, and app is then 0 rather than negative. pool appears
 * once the request ran a statement; traceparent when the request is traced (obs/tracing.ts).
 */
export function timingHeader(stats: RequestStats, totalMs: number): string {
  const total = ms(totalMs);
  const db = ms(stats.dbMs);
  const pool = ms(stats.poolMs);
  const cache = stats.cacheResult ? ms(stats.cacheMs) : 0;
  const compress = stats.encoding ? ms(stats.compressMs) : 0;
  const app = Math.max(0, ms(total - db - pool - cache - compress));
  let header = `db;dur=${db.toFixed(2)};desc="${plural(stats.queries)}"`;
  if (stats.queries > 0) header += `,pool;dur=${pool.toFixed(2)}`;
  if (stats.cacheResult) header += `,cache;dur=${cache.toFixed(2)};desc="${stats.cacheResult}"`;
  if (stats.encoding) header += `,compress;dur=${compress.toFixed(2)};desc="${stats.encoding}"`;
  header += `,app;dur=${app.toFixed(2)},total;dur=${total.toFixed(2)}`;
  if (stats.trace) header += `,traceparent;desc="${stats.trace.traceparent}"`;
  return header;
}

/**
 * Opens the per-request accounting that the driver wrapper and the cache write into; on the way
 * out writes the Server-Timing header (db, pool, cache, app, total) and announces the finished request to
 * the telemetry subscribers (route table, metrics, logs).
 *
 * This does what hono/timing + setMetric did, in one pass: the header is built once from three
 * numbers instead of through a per-request Map of timers and three quoted entries: the
 * two-middleware version was most of the instrumentation's cost on a cached read.
 */
export function requestStats(opts: RequestStatsOptions): MiddlewareHandler {
  const { telemetry, capture, timingAllowOrigin } = opts;
  return async function requestStats(c, next) {
    const start = performance.now();
    const stats = new RequestStats(c.get("requestId") ?? "", capture?.(c) ?? false);
    c.set("stats", stats);
    await requestStore.run(stats, next);
    const totalMs = performance.now() - start;
    c.res.headers.append("Server-Timing", timingHeader(stats, totalMs));
    const tao = timingAllowOrigin?.(c);
    if (tao) c.res.headers.append("Timing-Allow-Origin", tao);
    if (telemetry.request.active) {
      stats.route = c.get("unmatched") ? "(unmatched)" : c.get("preflight") ? "(preflight)" : routePath(c, -1) || c.req.path;
      // Count what the client got: when its connection closed before this answer, nothing (499).
      const status = c.req.raw.signal.aborted ? CLIENT_CLOSED_REQUEST : c.res.status;
      telemetry.request.emit({ method: c.req.method, route: stats.route, status, totalMs, stats });
    }
  };
}
