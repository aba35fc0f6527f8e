import { mkdirSync, rmSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { renderChart } from "./chart";
import { parseOptions, ROOT, type Options } from "./config";
import { benchDatabases } from "./cpu";
import { ensureData, prewarm, resetWrites } from "./db";
import { otherBenchmarks } from "./exec";
import { explainList } from "./explain";
import { SPEC_DIR } from "./load";
import { renderMarkdown } from "./markdown";
import { buildResults } from "./report";
import { l1Phase, type Invalidation } from "./l1";
import { authPhase, compressionPhase, nomemoPrefix, type CacheMemory, DEFAULT_POOL, flushPrefix, instrumentationPhase, mainPhase, poolPhase, poolPrefix, rawPrefix, tracingPhase, type Cells } from "./scenarios";
import { replicaPhase, workersPhase } from "./scale-out";
import { LOG_DIR, type Server } from "./servers";
import { loadWorkload } from "./workload";
import { multiplierFor, permute } from "./zipf";

// `bun run bench [--quick] [--only before,after,limits,instrumentation,tracing,auth,pool,workers,replica,compression,l1] [--rounds N]`
// 1. data set (bench-owned databases), 2. EXPLAIN of the list query, 3. interleaved load phases,
// 4. bench/results/<latest|quick|partial>.{md,json,svg}. See bench/config.ts for the knobs.

const t0 = performance.now();
const opts: Options = parseOptions(Bun.argv.slice(2));
const p = opts.profile;
const elapsed = () => `${Math.round((performance.now() - t0) / 1000)}`.padStart(4);
const tty = process.stdout.isTTY;
let lastLine = "";
const say = (s: string) => {
  const line = `[${elapsed()} s] ${s}`;
  if (tty) process.stdout.write(`\r\x1b[2K${line.slice(0, (process.stdout.columns || 120) - 1)}`);
  else if (s !== lastLine) console.log(line);
  lastLine = s;
};
const done = (s: string) => {
  if (tty) process.stdout.write("\r\x1b[2K");
  console.log(`[${elapsed()} s] ${s}`);
};

const concurrent = new Set(otherBenchmarks());
const warnConcurrent = () => {
  for (const c of otherBenchmarks()) concurrent.add(c);
  if (concurrent.size) done(`warning: other benchmarks ran alongside this one, numbers are skewed:\n  ${[...concurrent].join("\n  ")}`);
};
done(`hotpath bench (${p.name}): ${[...opts.only].join(", ")}; ${opts.rounds} round(s)`);
const data = await ensureData(p, say);
benchDatabases.push(p.db, p.naiveDb);
done(`data: ${p.users} users, ${p.documents} documents in ${p.db} / ${p.naiveDb}${data.seeded ? " (seeded)" : ""}${data.copied ? " (naive copy made)" : ""}`);
const prefixes = [p.redisPrefix, rawPrefix(opts), nomemoPrefix(opts), ...p.poolSizes.map((n) => poolPrefix(opts, n))];
for (const prefix of prefixes) await flushPrefix(prefix);
const workload = await loadWorkload(p);
say("prewarming the tables");
await prewarm(p.db);
await prewarm(p.naiveDb);
const hottest = permute(1, p.users, multiplierFor(p.users));
const deepest = workload.deepUsers[permute(1, workload.deepUsers.length, multiplierFor(workload.deepUsers.length)) - 1]!;
say("EXPLAIN ANALYZE of the list query");
const plans = await explainList(p, workload, hottest, deepest);

const cells: Cells = {};
const invalidation: Invalidation = { delaysMs: [], fromSendMs: [], stale: 0 };
const cacheMemory: CacheMemory[] = [];
const servers: Server[] = [];
const stopAll = async () => {
  for (const s of servers.splice(0)) await s.stop();
};
const onSignal = async () => {
  await stopAll();
  process.exit(130);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
try {
  for (let round = 1; round <= opts.rounds; round++) {
    const r = opts.rounds > 1 ? `round ${round}/${opts.rounds} · ` : "";
    if (opts.only.has("before") || opts.only.has("after") || opts.only.has("limits")) {
      await mainPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    for (const c of otherBenchmarks()) concurrent.add(c);
    if (opts.only.has("instrumentation")) {
      await instrumentationPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("tracing")) {
      await tracingPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("auth")) {
      await authPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("compression")) {
      await compressionPhase(opts, workload, cells, (s) => say(r + s), servers, cacheMemory);
      await stopAll();
    }
    if (opts.only.has("pool")) {
      await poolPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("workers")) {
      await workersPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("replica")) {
      await replicaPhase(opts, workload, cells, (s) => say(r + s), servers);
      await stopAll();
    }
    if (opts.only.has("l1")) {
      await l1Phase(opts, workload, cells, invalidation, (s) => say(r + s), servers);
      await stopAll();
    }
  }
} finally {
  await stopAll();
  await resetWrites(p.db, p);
  await resetWrites(p.naiveDb, p);
  for (const prefix of prefixes) await flushPrefix(prefix);
  rmSync(SPEC_DIR, { recursive: true, force: true });
  rmSync(LOG_DIR, { recursive: true, force: true });
}

warnConcurrent();
const pg = await Bun.$`psql --version`.nothrow().quiet().text();
const commit = await Bun.$`git -C ${ROOT} rev-parse --short HEAD`.nothrow().quiet().text();
const results = buildResults(opts, cells, plans, invalidation, cacheMemory, {
  command: `bun run bench${Bun.argv.slice(2).length ? ` ${Bun.argv.slice(2).join(" ")}` : ""}`,
  profile: p.name,
  date: new Date().toISOString(),
  durationS: Math.round((performance.now() - t0) / 1000),
  machine: `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}, ${pg.trim().replace(/^psql \(PostgreSQL\) /, "PostgreSQL ") || "PostgreSQL"}`,
  commit: commit.trim(),
  generator: "bun",
  connections: p.connections,
  windows: p.windows * opts.rounds,
  windowS: p.windowS,
  rounds: opts.rounds,
  users: p.users,
  documents: p.documents,
  defaultPool: DEFAULT_POOL,
  nextPage: p.nextPage,
  pageSize: p.pageSize,
  chart: `${p.results}.svg`,
  concurrentBenchmarks: [...concurrent],
});
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
const base = `${ROOT}/bench/results/${p.results}`;
const md = renderMarkdown(results);
await Bun.write(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
await Bun.write(`${base}.md`, md);
await Bun.write(`${base}.svg`, renderChart(results) + "\n");
done(`done in ${results.meta.durationS} s → bench/results/${p.results}.{md,json,svg}`);
console.log(`\n${md}`);
process.exit(0);
