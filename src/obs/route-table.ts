import type { RequestEvent } from "../context/telemetry";
import { LatencyHistogram } from "./latency";
import { methodLabel } from "./metrics";

/** Accumulated per (method, route template); counts are exact, percentiles ≤ 3 % off. */
class RouteEntry {
  readonly latency = new LatencyHistogram();
  readonly statuses = new Map<number, number>();
  dbMs = 0;
  queries = 0;
  cacheHits = 0;
  cacheLookups = 0;
  constructor(
    readonly method: string,
    readonly route: string,
  ) {}
}

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

export function createRouteTable() {
  const started = Date.now();
  // method → route template → entry: no key string is built per request (see metrics.ts).
  const entries = new Map<string, Map<string, RouteEntry>>();
  let totalMs = 0;
  let requests = 0;

  return {
    record(e: RequestEvent): void {
      const method = methodLabel(e.method);
      let byRoute = entries.get(method);
      if (!byRoute) entries.set(method, (byRoute = new Map()));
      let entry = byRoute.get(e.route);
      if (!entry) byRoute.set(e.route, (entry = new RouteEntry(method, e.route)));
      entry.latency.record(e.totalMs);
      entry.statuses.set(e.status, (entry.statuses.get(e.status) ?? 0) + 1);
      entry.dbMs += e.stats.dbMs;
      entry.queries += e.stats.queries;
      const cache = e.stats.cacheResult;
      if (cache !== undefined && cache !== "evict") {
        entry.cacheLookups++;
        if (cache === "hit") entry.cacheHits++;
      }
      totalMs += e.totalMs;
      requests++;
    },

    snapshot(): RoutesSnapshot {
      const routes = [...entries.values()].flatMap((m) => [...m.values()]).map((e): RouteRow => {
        const h = e.latency;
        return {
          method: e.method,
          route: e.route,
          count: h.count,
          statuses: Object.fromEntries([...e.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
          p50Ms: r3(h.quantile(0.5)),
          p95Ms: r3(h.quantile(0.95)),
          p99Ms: r3(h.quantile(0.99)),
          maxMs: r3(h.maxMs),
          meanMs: r3(h.sumMs / h.count),
          meanDbMs: r3(e.dbMs / h.count),
          meanQueries: r3(e.queries / h.count),
          cacheHitRatio: e.cacheLookups ? r3(e.cacheHits / e.cacheLookups) : null,
          timeShare: totalMs > 0 ? Math.round((h.sumMs / totalMs) * 10_000) / 10_000 : 0,
        };
      });
      routes.sort((a, b) => b.timeShare - a.timeShare || b.count - a.count);
      return {
        since: new Date(started).toISOString(),
        uptimeS: Math.round((Date.now() - started) / 100) / 10,
        requests,
        totalMs: r3(totalMs),
        routes,
      };
    },
  };
}

export type RouteTable = ReturnType<typeof createRouteTable>;
