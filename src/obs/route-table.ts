import type { RequestEvent } from "../context/telemetry";
import { LatencyHistogram } from "./latency";
import type { RequestSeriesSet } from "./request-series";

export interface RouteRow {
  method: string;
  route: string;
  count: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  meanDbMs: number;
  meanQueries: number;
  /** Hits over requests that looked something up (hit, miss, bypass, error); null when none did. */
  cacheHitRatio: number | null;
  /** This route's total time over all routes' total time since start. */
  timeShare: number;
}

export interface RoutesSnapshot {
  since: string;
  uptimeS: number;
  requests: number;
  totalMs: number;
  routes: RouteRow[];
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** A route's statuses folded into one row. */
interface Fold {
  latency: LatencyHistogram;
  statuses: [number, number][];
  dbMs: number;
  queries: number;
  hits: number;
  lookups: number;
}

/** Per (method, route template): counts are exact, percentiles ≤ 3 % off. A view of the request series. */
export function createRouteTable(series: RequestSeriesSet) {
  return {
    snapshot(): RoutesSnapshot {
      const totalMs = series.totalMs;
      const folds = new Map<string, Map<string, Fold>>(); // method → route template → row
      for (const s of series.all) {
        let byRoute = folds.get(s.method);
        if (!byRoute) folds.set(s.method, (byRoute = new Map()));
        let f = byRoute.get(s.route);
        if (!f) byRoute.set(s.route, (f = { latency: new LatencyHistogram(series.bounds), statuses: [], dbMs: 0, queries: 0, hits: 0, lookups: 0 }));
        f.latency.add(s.latency);
        f.statuses.push([s.status, s.latency.count]);
        f.dbMs += s.dbMs;
        f.queries += s.queries;
        f.hits += s.cacheHits;
        f.lookups += s.cacheLookups;
      }
      const routes: RouteRow[] = [];
      for (const [method, byRoute] of folds) {
        for (const [route, f] of byRoute) {
          const h = f.latency;
          routes.push({
            method,
            route,
            count: h.count,
            statuses: Object.fromEntries(f.statuses.sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
            p50Ms: r3(h.quantile(0.5)),
            p95Ms: r3(h.quantile(0.95)),
            p99Ms: r3(h.quantile(0.99)),
            maxMs: r3(h.maxMs),
            meanMs: r3(h.sumMs / h.count),
            meanDbMs: r3(f.dbMs / h.count),
            meanQueries: r3(f.queries / h.count),
            cacheHitRatio: f.lookups ? r3(f.hits / f.lookups) : null,
            timeShare: totalMs > 0 ? Math.round((h.sumMs / totalMs) * 10_000) / 10_000 : 0,
          });
        }
      }
      routes.sort((a, b) => b.timeShare - a.timeShare || b.count - a.count);
      return {
        since: new Date(series.started).toISOString(),
        uptimeS: Math.round((Date.now() - series.started) / 100) / 10,
        requests: series.requests,
        totalMs: r3(totalMs),
        routes,
      };
    },
  };
}

export type RouteTable = ReturnType<typeof createRouteTable>;
