import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { drizzle } from "drizzle-orm/postgres-js";
import { ROOT } from "../bench/config";
import type { Results } from "../bench/report";
import { ENDPOINTS } from "../bench/zipf";
import type { Db } from "../src/db/client";
import { statementNames } from "../src/db/hot-queries";
import { createQueries } from "../src/db/queries";
import * as schema from "../src/db/schema";

// `bun run bench --quick` end to end (real Postgres + Redis, small data, ~1 min): every cell of
// every table is present and sane. No timing is asserted beyond "the naive server is slower
// than the service", which holds by orders of magnitude; the machine is shared and noisy.

const QUICK_POOLS = [1, 4];
const expectedCells = [
  ...ENDPOINTS.flatMap((e) => [`before/${e}`, `after/${e}`]),
  "limit-redis/profile",
  "limit-fixed/profile",
  "limit-pg/first",
  "limit-pg/next",
  "instr-on/profile",
  "instr-off/profile",
  "instr-log/profile",
  "trace-off/profile",
  "trace-1/profile",
  "trace-0.01/profile",
  "auth-on/patchDoc",
  "auth-off/patchDoc",
  "auth-on/profile",
  "auth-off/profile",
  ...QUICK_POOLS.flatMap((n) => [`pool-${n}/first`, `pool-${n}/doc-cold`]),
  ...["workers-1", "workers-2"].flatMap((s) => [`${s}/profile`, `${s}/first`]),
  ...["primary-only", "replica-1"].flatMap((s) => [`${s}/first`, `${s}/next`]),
  ...["list100", "profile", "doc"].flatMap((e) => [`compress-none/${e}`, `compress-br-gzip/${e}`, `compress-nomemo/${e}`]),
  "l1-on/profile",
  "l1-off/profile",
  "l1-raw/profile",
];
const finitePositive = (x: number) => Number.isFinite(x) && x > 0;

test(
  "bun run bench --quick writes complete, sane results",
  async () => {
    const started = Date.now();
    const proc = Bun.spawn(["bun", "run", "bench", "--quick"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 200_000);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    if (code !== 0) console.error(out.slice(-3000), err.slice(-3000));
    expect(code).toBe(0);

    const r = (await Bun.file(`${ROOT}/bench/results/quick.json`).json()) as Results;
    expect(Date.parse(String(r.meta.date))).toBeGreaterThanOrEqual(started - 1000);
    expect(r.meta.profile).toBe("quick");

    for (const key of expectedCells) {
      const cell = r.cells[key];
      expect(cell, key).toBeDefined();
      const s = cell!.summary;
      expect(s.requests, key).toBeGreaterThan(0);
      expect(s.errors, `${key} errors`).toBe(0);
      for (const v of [s.rps.median, s.avgMs.median, s.p50Ms.median, s.p99Ms.median, s.maxMs]) expect(finitePositive(v), key).toBe(true);
      expect(s.p50Ms.median, key).toBeLessThanOrEqual(s.maxMs);
      for (const v of Object.values(s.cpuMsPerReq)) expect(Number.isFinite(v) && v >= 0, `${key} cpu`).toBe(true);
      expect(s.dist.length, key).toBeGreaterThan(5);
    }
    // The cached endpoints report their cache outcome; the naive server has no cache.
    for (const key of ["after/profile", "after/doc", "after/ustats", "after/gstats", "limit-redis/profile"]) {
      const h = r.cells[key]!.summary.hitRatio;
      expect(h !== null && h >= 0 && h <= 1, key).toBe(true);
    }
    expect(r.cells["before/profile"]!.summary.hitRatio).toBeNull();

    // before → after: the naive server is slower on every endpoint; factors computed.
    expect(r.beforeAfter.map((f) => f.endpoint).sort()).toEqual([...ENDPOINTS].sort());
    for (const f of r.beforeAfter) {
      expect(r.cells[`before/${f.endpoint}`]!.summary.avgMs.median, f.endpoint).toBeGreaterThan(r.cells[`after/${f.endpoint}`]!.summary.avgMs.median);
      for (const v of [f.avg, f.p99, f.rps]) expect(finitePositive(v), f.endpoint).toBe(true);
      // A quick window of cache hits may measure no Postgres CPU at all after: the factor is then
      // unbounded (Infinity, printed "—"), never zero or NaN.
      expect(f.dbCpu > 0, f.endpoint).toBe(true);
    }
    // after ÷ limit, instrumentation on ÷ off, auth on ÷ off: ratios present, finite, positive.
    expect(r.limits.length).toBe(5);
    // Instrumentation on ÷ off, the request log on ÷ off, both ÷ off; each with a server-CPU ratio.
    expect(r.instrumentation.map((l) => [l.a, l.b])).toEqual([
      ["instr-on/profile", "instr-off/profile"],
      ["instr-log/profile", "instr-on/profile"],
      ["instr-log/profile", "instr-off/profile"],
    ]);
    for (const l of r.instrumentation) expect(finitePositive(l.serverCpu!.median), l.name).toBe(true);
    expect(r.auth.map((l) => l.a)).toEqual(["auth-on/patchDoc", "auth-on/profile"]);
    expect(r.tracing.map((l) => [l.a, l.b])).toEqual([
      ["trace-1/profile", "trace-off/profile"],
      ["trace-0.01/profile", "trace-off/profile"],
    ]);
    // Scale-out: 2 workers ÷ 1 (profile, first page), one replica ÷ primary only (first, next page).
    expect(r.scaleOut.map((l) => l.a)).toEqual(["workers-2/profile", "workers-2/first", "replica-1/first", "replica-1/next"]);
    for (const l of [...r.limits, ...r.instrumentation, ...r.tracing, ...r.auth, ...r.scaleOut]) {
      for (const v of [l.rps.median, l.rps.min, l.rps.max]) expect(finitePositive(v), l.name).toBe(true);
    }
    // Compression: the 100-item list is sent in fewer bytes with br; the small profile is not
    // compressed; the cached document is (from the bytes stored in its entry).
    expect(r.compression.map((l) => l.endpoint)).toEqual(["list100", "profile", "doc"]);
    for (const l of r.compression) {
      expect(finitePositive(l.bytes) && finitePositive(l.rps.median) && Number.isFinite(l.serverCpu), l.endpoint).toBe(true);
      expect(finitePositive(r.cells[l.none]!.summary.bytesPerResponse), l.endpoint).toBe(true);
    }
    expect(r.compression[0]!.bytes).toBeLessThan(0.5);
    // Same body either way; only the digits of Server-Timing make the byte counts differ.
    expect(Math.abs(r.compression[1]!.bytes - 1)).toBeLessThan(0.02);
    expect(r.compression[2]!.bytes).toBeLessThan(1);
    // What the stored bytes cost in Redis: nothing for the profile (under the threshold), more for the others.
    expect(r.compressionMemory.map((m) => m.body.split(" ")[0])).toEqual(["profile", "document", "100-item"]);
    const [profile, doc, page] = r.compressionMemory;
    expect(profile!.stored).toBe(profile!.jsonOnly);
    for (const m of [doc!, page!]) {
      expect(Object.keys(m.coded).sort()).toEqual(["br", "gzip"]);
      expect(m.stored).toBeGreaterThan(m.jsonOnly);
    }
    // Cache tiers: L1 on and off ÷ raw; the invalidation probes all saw the write.
    expect(r.l1.map((l) => l.a)).toEqual(["l1-on/profile", "l1-off/profile"]);
    for (const l of r.l1) for (const v of [l.rps.median, l.rps.min, l.rps.max]) expect(finitePositive(v), l.name).toBe(true);
    expect(r.cells["l1-on/profile"]!.summary.hitRatio).toBeGreaterThan(0);
    expect(r.invalidation).not.toBeNull();
    expect(r.invalidation!.probes).toBe(20);
    for (const v of [r.invalidation!.p50Ms, r.invalidation!.p99Ms, r.invalidation!.maxMs]) expect(Number.isFinite(v) && v >= 0).toBe(true);
    // Pool sweep: a recommendation among the sizes tried.
    expect(r.pool).not.toBeNull();
    expect(QUICK_POOLS).toContain(r.pool!.recommended);
    // EXPLAIN ANALYZE with and without the index, and the targets table.
    expect(r.explain.length).toBe(4);
    for (const p of r.explain) expect(finitePositive(p.executionMs), p.label).toBe(true);
    expect(r.explain[0]!.plan).toContain("documents_user_created_idx");
    expect(r.explain[1]!.plan).not.toContain("documents_user_created_idx");
    // The service's own list statements (the table in src/db/queries.ts), not a copy of their SQL;
    // the last one is the naive server's.
    const names = statementNames(createQueries(drizzle.mock({ schema }) as unknown as Db));
    expect(r.explain.map((p) => names.get(p.sql))).toEqual(["hp_docs_first", "hp_docs_first", "hp_docs_after", undefined]);
    expect(r.targets.length).toBeGreaterThanOrEqual(6);

    const md = await Bun.file(`${ROOT}/bench/results/quick.md`).text();
    for (const heading of ["Before → after", "Per endpoint", "after ÷ fastest", "Instrumentation", "Tracing cost", "Authentication cost", "Compression", "Pool size", "Scale-out", "Cache tiers", "invalidation delay", "EXPLAIN ANALYZE"]) {
      expect(md).toContain(heading);
    }
    expect(existsSync(`${ROOT}/bench/results/quick.svg`)).toBe(true);
    expect(await Bun.file(`${ROOT}/bench/results/quick.svg`).text()).toStartWith("<svg");
  },
  210_000,
);
