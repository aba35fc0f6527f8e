import type { RequestEvent } from "../context/telemetry";
import { LatencyHistogram } from "./latency";

// The one record of a finished request: per (method, route template, status), its latency
// distribution and what it spent. /metrics renders the series as the Prometheus histogram
// (metrics.ts), the route table folds a route's statuses into its row (route-table.ts): one
// lookup and one observation per request, two views.

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** A client can send any method token; labels (and table rows) must stay a bounded set. */
export const methodLabel = (m: string) => (METHODS.has(m) ? m : "OTHER");

/**
 * Children per label tuple in nested Maps: method and route are the same string objects on every
 * request (their hash is cached) and status is a number, so no key string is built per request.
 */
export function nested<K1, K2, K3, T>(make: (a: K1, b: K2, c: K3) => T) {
  const top = new Map<K1, Map<K2, Map<K3, T>>>();
  return (a: K1, b: K2, c: K3): T => {
    let m2 = top.get(a);
    if (!m2) top.set(a, (m2 = new Map()));
    let m3 = m2.get(b);
    if (!m3) m2.set(b, (m3 = new Map()));
    let child = m3.get(c);
    if (!child) m3.set(c, (child = make(a, b, c)));
    return child;
  };
}

export class RequestSeries {
  readonly latency: LatencyHistogram;
  dbMs = 0;
  queries = 0;
  cacheHits = 0;
  /** Requests that looked something up (hit, miss, bypass, error, …; not a write's evict). */
  cacheLookups = 0;
  constructor(
    readonly method: string,
    readonly route: string,
    readonly status: number,
    bounds: readonly number[],
  ) {
    this.latency = new LatencyHistogram(bounds);
  }
}

/** `bounds`: the Prometheus buckets of the latency histogram, in seconds. */
export function createRequestSeries(bounds: readonly number[]) {
  const started = Date.now();
  const all: RequestSeries[] = [];
  const find = nested<string, string, number, RequestSeries>((method, route, status) => {
    const s = new RequestSeries(method, route, status, bounds);
    all.push(s);
    return s;
  });
  let totalMs = 0;
  let requests = 0;

  return {
    started,
    bounds,
    /** Every series, in order of first appearance. */
    all: all as readonly RequestSeries[],
    get totalMs() {
      return totalMs;
    },
    get requests() {
      return requests;
    },
    record(e: RequestEvent): void {
      const s = find(methodLabel(e.method), e.route, e.status);
      s.latency.record(e.totalMs);
      s.dbMs += e.stats.dbMs;
      s.queries += e.stats.queries;
      const cache = e.stats.cacheResult;
      if (cache !== undefined && cache !== "evict") {
        s.cacheLookups++;
        // Answered from the cache: Redis, this process' L1, or a stale entry inside the grace.
        if (cache === "hit" || cache === "l1-hit" || cache === "stale") s.cacheHits++;
      }
      totalMs += e.totalMs;
      requests++;
    },
  };
}

export type RequestSeriesSet = ReturnType<typeof createRequestSeries>;
