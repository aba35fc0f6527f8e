import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "./config";
import { cpuDelta, sampleCpu } from "./cpu";
import type { Server } from "./servers";
import type { Spec } from "./zipf";

// The load generator: bench/loadgen.ts, a closed-loop generator on raw Bun sockets in a process
// of its own, the only one (wrk and its Lua mirror of the workload were dropped: wrk is not on
// the machines this runs on, and wrk 4.1's latency statistics did not add up here — with 8
// connections its mean latency × requests/s came out at 10–130 connections where Little's law
// says 8, wg/wrk#438 — while this generator gives 7.9 at about the same CPU per request, ~14 µs
// at 35 000 requests/s against the fixed-body server). autocannon was not chosen: under Node it
// costs more per request and is a new dependency. The generator shares the 2 cores with the
// servers; its CPU per request is reported with every cell.

export interface Sample {
  requests: number;
  durationS: number;
  rps: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  /** Bytes received per response, status line and headers included (what crossed the wire). */
  bytesPerResponse: number;
  /** Error classes: connect, read, write, status (HTTP ≥ 400), timeout. */
  errorsBy: Record<string, number>;
  hits: number;
  misses: number;
  /** [percentile, ms] of the latency distribution (for the chart). */
  dist: [number, number][];
  /** CPU ms per request: Postgres (the bench databases' backends), Redis, the server under test, the generator. */
  cpu: { postgres: number; redis: number; server: number; generator: number };
  /** Cores busy with anything else during the window (other tests, other benchmarks): a noise gauge. */
  otherCores: number;
}

export const SPEC_DIR = `${tmpdir()}/hotpath-bench-${process.pid}`;
/** Writes a workload spec for the generator; returns its path without the extension. */
export async function writeSpec(name: string, spec: Spec): Promise<string> {
  mkdirSync(SPEC_DIR, { recursive: true });
  const base = `${SPEC_DIR}/${name}`;
  await Bun.write(`${base}.json`, JSON.stringify(spec));
  return base;
}

/** One closed-loop run of `durationS` seconds with `connections` connections against `server`. */
export async function runLoad(server: Server, specBase: string, connections: number, seconds: number): Promise<Sample> {
  const durationS = Math.max(1, Math.round(seconds));
  const cmd = ["bun", `${ROOT}/bench/loadgen.ts`,
    JSON.stringify({ host: "127.0.0.1", port: server.port, connections, durationS, specFile: `${specBase}.json` })];
  const before = sampleCpu(server.pid);
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const cpu = cpuDelta(before, sampleCpu(server.pid));
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) {
    const dead = server.exited() ? `\n${server.name} has exited; its last output:\n${server.log()}` : "";
    throw new Error(`the load generator printed no result (exit ${proc.exitCode}):\n${out.slice(-1500)}\n${err.slice(-1500)}${dead}`);
  }
  const r = JSON.parse(line.slice("BENCH_JSON ".length));
  const usage = proc.resourceUsage();
  const genMs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : 0;
  const n = Math.max(1, r.requests);
  const pct = (p: number) => (r.latencyUs.pct as [number, number][]).find(([q]) => q === p)![1] / 1000;
  return {
    requests: r.requests,
    durationS: r.durationUs / 1e6,
    rps: r.requests / (r.durationUs / 1e6),
    avgMs: r.latencyUs.mean / 1000,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: r.latencyUs.max / 1000,
    bytesPerResponse: r.bytes / n,
    errors: Object.values(r.errors as Record<string, number>).reduce((a, b) => a + b, 0),
    errorsBy: r.errors,
    hits: r.hits,
    misses: r.misses,
    dist: (r.latencyUs.pct as [number, number][]).map(([p, us]) => [p, us / 1000]),
    cpu: { postgres: cpu.postgres / n, redis: cpu.redis / n, server: cpu.server / n, generator: genMs / n },
    otherCores: Math.max(0, cpu.busy - cpu.postgres - cpu.redis - cpu.server - genMs) / (r.durationUs / 1000),
  };
}
