import type { Logger } from "../lib/log";
import type { RequestStats } from "../context/request";
import type { QueryEvent, RequestEvent } from "../context/telemetry";
import type { Fingerprint } from "./normalize";

export interface QueryWatchOptions {
  slowMs: number;
  /** A request running one normalized statement more than this many times is flagged. */
  repeatLimit?: number;
  log: Logger;
  onRepeat?: (route: string, label: string) => void;
}

interface PerRequest {
  counts: Map<string, { n: number; label: string }>;
  slow: { fp: Fingerprint; e: QueryEvent }[];
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Slow statements and repeated statements (an N+1 in the making), per request. The route is
 * known only once routing has finished, so a slow statement inside a request is logged when the
 * request ends (one line per statement, in order); statements outside any request, or finishing
 * after their request ended (timeout), are logged at once.
 */
export function createQueryWatch(opts: QueryWatchOptions) {
  const repeatLimit = opts.repeatLimit ?? 3;
  const logSlow = opts.log.enabled("warn");
  // Per watcher, not fields on RequestStats: two apps over one telemetry (tests) each keep their own.
  // Only requests that ran statements get an entry; a cached read costs nothing here.
  const open = new WeakMap<RequestStats, PerRequest>();

  const slowLine = (fp: Fingerprint, e: QueryEvent, route: string | null) =>
    opts.log.warn("slow query", {
      sql: fp.normalized,
      statement: fp.label,
      durMs: round(e.durMs),
      rows: e.rows,
      ...(e.error ? { error: e.error } : {}),
      route,
      requestId: e.stats?.requestId || null,
    });

  return {
    onQuery(e: QueryEvent, fp: Fingerprint): void {
      const slow = logSlow && e.durMs > opts.slowMs;
      const stats = e.stats;
      // requestStats sets the route just before announcing the request: set = already ended.
      if (!stats || stats.route !== "") {
        if (slow) slowLine(fp, e, stats?.route || null);
        return;
      }
      let req = open.get(stats);
      if (!req) open.set(stats, (req = { counts: new Map(), slow: [] }));
      const seen = req.counts.get(fp.normalized);
      if (seen) seen.n++;
      else req.counts.set(fp.normalized, { n: 1, label: fp.label });
      if (slow) req.slow.push({ fp, e });
    },

    onRequest(e: RequestEvent): void {
      const req = open.get(e.stats);
      if (!req) return;
      open.delete(e.stats);
      for (const s of req.slow) slowLine(s.fp, s.e, e.route);
      for (const [normalized, { n: count, label }] of req.counts) {
        if (count <= repeatLimit) continue;
        opts.onRepeat?.(e.route, label);
        if (logSlow) {
          opts.log.warn("repeated query (possible N+1)", {
            sql: normalized,
            statement: label,
            count,
            method: e.method,
            route: e.route,
            requestId: e.stats.requestId || null,
          });
        }
      }
    },
  };
}
