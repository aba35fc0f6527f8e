import type { Sample } from "./load";

// Repeats → one number: the median, with the spread (min–max over the repeats) beside it.

export const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export const spread = (xs: number[]): Spread => {
  const f = xs.filter(Number.isFinite);
  return { median: median(f), min: f.length ? Math.min(...f) : NaN, max: f.length ? Math.max(...f) : NaN };
};

export interface Summary {
  windows: number;
  requests: number;
  errors: number;
  rps: Spread;
  avgMs: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  maxMs: number;
  /** Median over the windows of the bytes received per response (headers included). */
  bytesPerResponse: number;
  /** hits / (hits + misses) over all windows; null when the server reports no cache outcome. */
  hitRatio: number | null;
  cpuMsPerReq: { postgres: number; redis: number; server: number; generator: number };
  /** Median cores busy with other work during the windows (0–2 here): high means a noisy cell. */
  otherCores: number;
  /** Element-wise median of the windows' latency percentiles (the chart's curve). */
  dist: [number, number][];
}

export function summarize(samples: Sample[]): Summary {
  const hits = samples.reduce((a, s) => a + s.hits, 0);
  const misses = samples.reduce((a, s) => a + s.misses, 0);
  const first = samples[0]?.dist ?? [];
  return {
    windows: samples.length,
    requests: samples.reduce((a, s) => a + s.requests, 0),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    rps: spread(samples.map((s) => s.rps)),
    avgMs: spread(samples.map((s) => s.avgMs)),
    p50Ms: spread(samples.map((s) => s.p50Ms)),
    p99Ms: spread(samples.map((s) => s.p99Ms)),
    maxMs: Math.max(...samples.map((s) => s.maxMs)),
    bytesPerResponse: median(samples.map((s) => s.bytesPerResponse)),
    hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
    cpuMsPerReq: {
      postgres: median(samples.map((s) => s.cpu.postgres)),
      redis: median(samples.map((s) => s.cpu.redis)),
      server: median(samples.map((s) => s.cpu.server)),
      generator: median(samples.map((s) => s.cpu.generator)),
    },
    otherCores: median(samples.map((s) => s.otherCores)),
    dist: first.map(([p], i) => [p, median(samples.map((s) => s.dist[i]?.[1] ?? NaN))]),
  };
}

/**
 * Ratio of two interleaved series, window by window (a[i] and b[i] were measured back to back,
 * so slow drifts of the machine cancel): median and spread of a[i] / b[i].
 */
export function pairedRatio(a: Sample[], b: Sample[], pick: (s: Sample) => number): Spread {
  const n = Math.min(a.length, b.length);
  return spread(Array.from({ length: n }, (_, i) => pick(a[i]!) / pick(b[i]!)));
}
