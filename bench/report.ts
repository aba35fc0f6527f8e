import type { Options } from "./config";
import type { Plan } from "./explain";
import type { Invalidation } from "./l1";
import { AUTH_ENDPOINTS, COMPRESSION_ENDPOINTS, POOL_ENDPOINTS, TRACE_RATIOS, type CacheMemory, type Cells } from "./scenarios";
import { pairedRatio, summarize, type Spread, type Summary } from "./stats";
import { ENDPOINTS } from "./zipf";

// Raw cells → the numbers the tables show: summaries, before/after factors, after ÷ limit ratios,
// instrumentation cost, the pool sweep's pick, and the targets (reported, never asserted).

export interface Cell {
  server: string;
  endpoint: string;
  windowS: number;
  warmup: number[];
  summary: Summary;
}
export interface Ratio {
  name: string;
  a: string;
  b: string;
  /** a ÷ b of requests/s, window by window. */
  rps: Spread;
  /** a ÷ b of the server's CPU time per request, window by window (where reported). */
  serverCpu?: Spread;
  target?: number;
}
export interface Target {
  name: string;
  target: string;
  value: number;
  met: boolean;
}
export interface Results {
  meta: Record<string, unknown>;
  cells: Record<string, Cell>;
  beforeAfter: { endpoint: string; avg: number; p99: number; rps: number; dbCpu: number }[];
  limits: Ratio[];
  instrumentation: Ratio[];
  /** OpenTelemetry tracing at sampling ratio 1.0 and 0.01 ÷ no endpoint, on the cached profile read. */
  tracing: Ratio[];
  /** Bearer JWT verification (+ abuse limits) on ÷ AUTH=off, on a write and a cached read. */
  auth: Ratio[];
  /** WORKERS=2 ÷ WORKERS=1, one read replica ÷ primary only (bench/scale-out.ts). */
  scaleOut: Ratio[];
  /** Accept-Encoding: br, gzip vs none on one server: bytes and req/s per response, CPU per request. */
  compression: { endpoint: string; none: string; compressed: string; nomemo?: string; bytes: number; rps: Spread; serverCpu: number }[];
  /** Redis MEMORY USAGE of cache entries with and without their stored compressed bytes (compression phase). */
  compressionMemory: CacheMemory[];
  /** L1 on and off ÷ the raw ioredis server, on the cached profile read (the l1 phase). */
  l1: Ratio[];
  /** Write through one instance → the other's L1 drops the key (the l1 phase). */
  invalidation: { probes: number; p50Ms: number; p99Ms: number; maxMs: number; staleReads: number; fromSendP50Ms: number; fromSendP99Ms: number } | null;
  pool: { endpoints: string[]; sizes: number[]; score: Record<number, number>; recommended: number; reason: string } | null;
  explain: Plan[];
  targets: Target[];
}

const LIMITS: [string, string, string, number | undefined][] = [
  ["cached profile read ÷ raw ioredis server", "after/profile", "limit-redis/profile", 0.85],
  ["keyset list, first page ÷ raw postgres.js server", "after/first", "limit-pg/first", 0.85],
  ["keyset list, next page ÷ raw postgres.js server", "after/next", "limit-pg/next", 0.85],
  ["cached profile read ÷ fixed body (HTTP ceiling)", "after/profile", "limit-fixed/profile", undefined],
  ["raw ioredis server ÷ fixed body", "limit-redis/profile", "limit-fixed/profile", undefined],
];

const SCALE_OUT: [string, string, string, number | undefined][] = [
  ["2 workers ÷ 1 worker, cached profile read", "workers-2/profile", "workers-1/profile", 1.6],
  ["2 workers ÷ 1 worker, first list page", "workers-2/first", "workers-1/first", 1.6],
  ["one replica ÷ primary only, first list page", "replica-1/first", "primary-only/first", undefined],
  ["one replica ÷ primary only, next page", "replica-1/next", "primary-only/next", undefined],
];

/** The instrumentation cell (scenarios.ts INSTRUMENTATION_SERVERS), on the cached profile read. */
const INSTRUMENTATION: [string, string, string][] = [
  ["instrumentation on ÷ off (request log off)", "instr-on/profile", "instr-off/profile"],
  ["request log on ÷ off (instrumentation on)", "instr-log/profile", "instr-on/profile"],
  ["instrumentation + request log ÷ off", "instr-log/profile", "instr-off/profile"],
];

/** Nearest-rank percentile. */
const percentile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

export function buildResults(o: Options, raw: Cells, explain: Plan[], inv: Invalidation, compressionMemory: CacheMemory[], meta: Record<string, unknown>): Results {
  const cells: Record<string, Cell> = {};
  for (const [key, m] of Object.entries(raw)) {
    const [server, endpoint] = key.split("/") as [string, string];
    cells[key] = { server, endpoint, windowS: m.windowS, warmup: m.warmup, summary: summarize(m.samples) };
  }
  const ratio = (name: string, a: string, b: string, target?: number): Ratio[] =>
    raw[a] && raw[b] ? [{ name, a, b, rps: pairedRatio(raw[a].samples, raw[b].samples, (s) => s.rps), target }] : [];

  const beforeAfter = ENDPOINTS.filter((e) => cells[`before/${e}`] && cells[`after/${e}`]).map((e) => {
    const b = cells[`before/${e}`]!.summary;
    const a = cells[`after/${e}`]!.summary;
    return {
      endpoint: e,
      avg: b.avgMs.median / a.avgMs.median,
      p99: b.p99Ms.median / a.p99Ms.median,
      rps: a.rps.median / b.rps.median,
      dbCpu: b.cpuMsPerReq.postgres / a.cpuMsPerReq.postgres,
    };
  });

  const limits = LIMITS.flatMap(([n, a, b, t]) => ratio(n, a, b, t));
  // Each with the server's CPU per request too: on a shared machine it moves less than req/s.
  const instrumentation = INSTRUMENTATION.flatMap(([n, a, b]) =>
    ratio(n, a, b).map((r) => ({ ...r, serverCpu: pairedRatio(raw[a]!.samples, raw[b]!.samples, (s) => s.cpu.server) })),
  );
  const tracing = TRACE_RATIOS.flatMap((t) => ratio(`profile: ratio ${t} ÷ off`, `trace-${t}/profile`, "trace-off/profile"));
  const scaleOut = SCALE_OUT.flatMap(([n, a, b, t]) => ratio(n, a, b, t));
  const auth = AUTH_ENDPOINTS.flatMap((e) => ratio(`${e}: on ÷ off`, `auth-on/${e}`, `auth-off/${e}`));
  const l1 = [
    ...ratio("cached profile read, L1 hit ÷ raw ioredis server", "l1-on/profile", "l1-raw/profile", 1.5),
    ...ratio("cached profile read, L1 off ÷ raw ioredis server", "l1-off/profile", "l1-raw/profile", 0.85),
  ];
  const d = inv.delaysMs;
  const invalidation = d.length
    ? {
        probes: d.length,
        p50Ms: percentile(d, 0.5),
        p99Ms: percentile(d, 0.99),
        maxMs: Math.max(...d),
        staleReads: inv.stale,
        fromSendP50Ms: percentile(inv.fromSendMs, 0.5),
        fromSendP99Ms: percentile(inv.fromSendMs, 0.99),
      }
    : null;

  const compression = COMPRESSION_ENDPOINTS.filter((e) => raw[`compress-none/${e}`] && raw[`compress-br-gzip/${e}`]).map((e) => {
    const none = `compress-none/${e}`;
    const compressed = `compress-br-gzip/${e}`;
    const a = cells[compressed]!.summary;
    const b = cells[none]!.summary;
    return {
      endpoint: e,
      none,
      compressed,
      nomemo: raw[`compress-nomemo/${e}`] ? `compress-nomemo/${e}` : undefined,
      /** compressed ÷ identity bytes per response */
      bytes: a.bytesPerResponse / b.bytesPerResponse,
      rps: pairedRatio(raw[compressed]!.samples, raw[none]!.samples, (s) => s.rps),
      /** server CPU ms per request, compressed − identity */
      serverCpu: a.cpuMsPerReq.server - b.cpuMsPerReq.server,
    };
  });

  let pool: Results["pool"] = null;
  const endpoints: string[] = [...POOL_ENDPOINTS];
  const sizes = o.profile.poolSizes.filter((n) => endpoints.every((e) => cells[`pool-${n}/${e}`]));
  if (sizes.length) {
    // Score = mean over the list and document endpoints of req/s relative to the best size. The
    // default is chosen among sizes ≥ 2: one connection pipelines short queries best, but queues
    // every query behind the slowest one (a GET /stats recompute, a write's WAL flush). Within 3 %
    // of the best candidate the smaller pool wins (fewer Postgres backends on 2 cores).
    const best = Object.fromEntries(endpoints.map((e) => [e, Math.max(...sizes.map((n) => cells[`pool-${n}/${e}`]!.summary.rps.median))]));
    const score = Object.fromEntries(
      sizes.map((n) => [n, endpoints.reduce((a, e) => a + cells[`pool-${n}/${e}`]!.summary.rps.median / best[e]!, 0) / endpoints.length]),
    );
    const candidates = sizes.some((n) => n >= 2) ? sizes.filter((n) => n >= 2) : sizes;
    const top = Math.max(...candidates.map((n) => score[n]!));
    const recommended = candidates.find((n) => score[n]! >= top - 0.03)!;
    const fastest = sizes.reduce((a, n) => (score[n]! > score[a]! ? n : a));
    const reason =
      `score ${score[recommended]!.toFixed(2)} (mean over the first list page and cold document reads of req/s relative to the best size)` +
      (fastest !== recommended
        ? `; DB_POOL_MAX=${fastest} scored ${score[fastest]!.toFixed(2)}, but ${fastest === 1 ? "a single connection queues every query behind the slowest one (a GET /stats recompute, a write's WAL flush)" : "it was within 3 % with more connections"}`
        : "");
    pool = { endpoints, sizes, score, recommended, reason };
  }

  const targets: Target[] = [];
  const mixed = beforeAfter.find((r) => r.endpoint === "mixed");
  if (mixed) {
    targets.push({ name: "after vs before, average latency (mixed)", target: "≥ 10×", value: mixed.avg, met: mixed.avg >= 10 });
    targets.push({ name: "after vs before, p99 (mixed)", target: "≥ 50×", value: mixed.p99, met: mixed.p99 >= 50 });
  }
  const indexed = explain.find((pl) => pl.label.startsWith("first page, with"));
  if (indexed) targets.push({ name: "list query execution with the index (ms)", target: "< 1 ms", value: indexed.executionMs, met: indexed.executionMs < 1 });
  for (const r of [...limits, ...scaleOut, ...l1]) if (r.target) targets.push({ name: r.name, target: `≥ ${r.target}`, value: r.rps.median, met: r.rps.median >= r.target });
  if (invalidation) targets.push({ name: "L1 invalidation delay between two instances, p99 (ms)", target: "< 50 ms", value: invalidation.p99Ms, met: invalidation.p99Ms < 50 });

  return { meta, cells, beforeAfter, limits, instrumentation, tracing, auth, scaleOut, compression, compressionMemory, l1, invalidation, pool, explain, targets };
}
