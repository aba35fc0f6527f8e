import { Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { CacheEvent } from "../context/telemetry";
import { histogramJson, histogramText } from "./exposition";
import { LatencyHistogram } from "./latency";
import { registerProcessMetrics } from "./process-metrics";
import { nested, type RequestSeriesSet } from "./request-series";

// prom-client's default HTTP buckets start at 5 ms, where every cache hit (~0.1-0.5 ms) and most
// index lookups would land in the first bucket. These start at 100 µs (50 µs for queries).
export const HTTP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DB_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

interface Observer {
  observe(v: number): void;
}

// What the metrics read at scrape time, passed in by the app (app.ts) rather than imported, so
// the views depend on no database, cache or auth module (test/layers.test.ts).
/** The queue in front of the pools (db/pool-queue.ts PoolQueue), and its wait hook. */
export interface PoolSource {
  readonly inUse: number;
  readonly waiting: number;
  readonly timeouts: number;
  onWait: ((ms: number, point: boolean) => void) | undefined;
}
/** The cache's L1 (cache/cache-aside.ts); l1BusConnected is undefined without an L1. */
export interface L1Source {
  readonly l1BusConnected: boolean | undefined;
  readonly l1Entries: number;
}

/**
 * One registry per app (never prom-client's global one), so two apps in a process never mix.
 * `requests`: the request series (request-series.ts), rendered as the HTTP latency histogram.
 */
export function createMetrics(
  requests: RequestSeriesSet,
  database: { pool: PoolSource; poolMax: number },
  limits: { failOpen: Readonly<Record<string, number>>; failOpenBreaker: Readonly<Record<string, number>> },
  cache?: L1Source,
) {
  const registry = new Registry();
  const registers = [registry];

  const db = new Histogram({
    name: "db_query_duration_seconds",
    help: "Database statement duration measured at the driver, by prepared statement name or statement kind.",
    labelNames: ["statement"],
    buckets: DB_BUCKETS,
    registers,
  });
  const dbErrors = new Counter({ name: "db_query_errors_total", help: "Statements that failed.", labelNames: ["statement"], registers });
  // Counted in plain numbers on the hot path and handed to prom-client at scrape time.
  const cacheCounts: { op: string; result: string; layer: string; n: number }[] = [];
  new Counter({
    name: "cache_operations_total",
    help: "Cache operations by outcome (get: l1-hit|hit|stale|miss|error|bypass; set: filled|error; del: evict|error|bypass) and the tier that answered (layer: l1|redis).",
    labelNames: ["op", "result", "layer"],
    registers,
    collect() {
      this.reset();
      for (const c of cacheCounts) this.inc({ op: c.op, result: c.result, layer: c.layer }, c.n);
    },
  });
  if (cache?.l1BusConnected !== undefined) {
    new Gauge({
      name: "cache_l1_bus_connected",
      help: "1 while the invalidation bus is subscribed; 0: L1 is bypassed (and was cleared).",
      registers,
      collect() {
        this.set(cache.l1BusConnected ? 1 : 0);
      },
    });
    new Gauge({
      name: "cache_l1_entries",
      help: "Entries in this process' L1.",
      registers,
      collect() {
        this.set(cache.l1Entries);
      },
    });
  }
  const repeats = new Counter({
    name: "db_repeated_statement_requests_total",
    help: "Requests that ran one normalized statement more than 3 times (possible N+1).",
    labelNames: ["route", "statement"],
    registers,
  });
  // Measured at the queue in front of the pools (src/db/pool-queue.ts).
  const { pool } = database;
  new Gauge({
    name: "db_pool_statements_in_flight",
    help: "Statements (and transactions) admitted to the pools and not finished, up to DB_POOL_MAX × DB_PIPELINE_DEPTH.",
    registers,
    collect() {
      this.set(pool.inUse);
    },
  });
  new Gauge({
    name: "db_pool_waiting",
    help: "Statements waiting to be admitted to a pool (the queue's length).",
    registers,
    collect() {
      this.set(pool.waiting);
    },
  });
  new Counter({
    name: "db_pool_acquire_timeouts_total",
    help: "Statements that waited DB_ACQUIRE_TIMEOUT_MS to be admitted and were refused (503 pool_exhausted).",
    registers,
    collect() {
      this.reset();
      this.inc(pool.timeouts);
    },
  });
  // Every acquisition is observed, a free slot as 0: rendered by exposition.ts, so that is cheap.
  const waits = [
    { labels: { class: "point" }, latency: new LatencyHistogram(DB_BUCKETS) },
    { labels: { class: "general" }, latency: new LatencyHistogram(DB_BUCKETS) },
  ] as const;
  pool.onWait = (ms, point) => waits[point ? 0 : 1].latency.record(ms);
  new Gauge({ name: "db_pool_max", help: "Pool size.", registers }).set(database.poolMax);
  new Counter({
    name: "rate_limit_fail_open_total",
    help: "Rate-limit checks skipped because their store (Redis) failed: the request went on unlimited.",
    labelNames: ["limiter"],
    registers,
    collect() {
      this.reset();
      for (const [limiter, n] of Object.entries(limits.failOpen)) this.inc({ limiter }, n);
    },
  });
  // A counter of its own, not a label on the one above: that series keeps counting every skipped
  // check, as dashboards and alerts already read it; this one says how many of them never left.
  new Counter({
    name: "rate_limit_fail_open_breaker_total",
    help: "Of rate_limit_fail_open_total: checks skipped because the Redis breaker was open (no command sent).",
    labelNames: ["limiter"],
    registers,
    collect() {
      this.reset();
      for (const [limiter, n] of Object.entries(limits.failOpenBreaker)) this.inc({ limiter }, n);
    },
  });
  registerProcessMetrics(registry);

  const dbChild = nested<string, 0, 0, Observer>((s) => db.labels(s));
  const cacheCount = nested<string, string, string, { op: string; result: string; layer: string; n: number }>((op, result, layer) => {
    const c = { op, result, layer, n: 0 };
    cacheCounts.push(c);
    return c;
  });

  // Ours first, in the order the registry had them when they were collectors inside it.
  const ours = () => [
    histogramJson(
      "http_server_request_duration_seconds",
      "Duration of HTTP server requests, by route template.",
      requests.all.map((s) => ({ labels: { method: s.method, route: s.route, status_code: String(s.status) }, latency: s.latency })),
    ),
    histogramJson(
      "db_pool_acquire_wait_seconds",
      "Time a statement waited to be admitted to a pool, by lane (point: the DB_POOL_RESERVED connections).",
      waits,
    ),
  ];

  return {
    /** Everything in the Prometheus text format. */
    async text(): Promise<string> {
      return `${ours().map(histogramText).join("\n\n")}\n\n${await registry.metrics()}`;
    },
    /** Everything as getMetricsAsJSON() has it: what a worker hands the supervisor to sum. */
    async json(): Promise<MetricsJson> {
      return [...(ours() as unknown as MetricsJson), ...(await registry.getMetricsAsJSON())];
    },
    contentType: registry.contentType,
    onQuery(label: string, durMs: number, error: boolean): void {
      dbChild(label, 0, 0).observe(durMs / 1000);
      if (error) dbErrors.inc({ statement: label });
    },
    onRepeat(route: string, label: string): void {
      repeats.inc({ route, statement: label });
    },
    onCache(e: CacheEvent): void {
      cacheCount(e.op, e.result, e.layer).n++;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
