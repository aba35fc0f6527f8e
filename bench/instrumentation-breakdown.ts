import { BENCH_JWT_SECRET } from "./auth";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { createApp } from "../src/app";
import { parseEnv } from "../src/env";
import { createServices } from "../src/services";

// Where the instrumentation's cost goes, in CPU per request: the same cached read through
// app.request() (no sockets) on apps that differ in one setting each, the cache in process
// memory so nothing but the middleware chain and its subscribers is measured. Short slices,
// alternated in changing order, median per-slice ratio to "off": robust to a busy machine.
//   bun run bench/instrumentation-breakdown.ts [--rounds 300] [--slice 200]
// Needs the database bench/instrumentation-cost.ts creates (it reads /users/1).

const { values: a } = parseArgs({
  options: { rounds: { type: "string", default: "300" }, slice: { type: "string", default: "200" } },
});
const ADMIN = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const dbUrl = Object.assign(new URL(ADMIN), { pathname: "/hotpath_bench_instrumentation" }).toString();
const probe = postgres(dbUrl, { max: 1, onnotice: () => {} });
await probe`select 1 from users where id = 1`.catch(() => {
  console.error("run bench/instrumentation-cost.ts once first: it creates and seeds the database");
  process.exit(2);
});
await probe.end();

const base = { DATABASE_URL: dbUrl, DB_SEED_DEMO: "false", LOG_LEVEL: "silent", JWT_SECRET: BENCH_JWT_SECRET };
const variants: [string, Record<string, string>][] = [
  ["off", { INSTRUMENTATION: "off" }],
  ["on", {}],
  ["on + DEBUG_TOKEN", { DEBUG_TOKEN: "bench-debug-token-0123" }],
  ["on + request log", { LOG_LEVEL: "info" }],
];
// Request lines are built as in production and written in 64 KB batches (as request-log.ts does
// on stdout) to /dev/null.
const devNull = Bun.file("/dev/null").writer();
let batch = "";
const logWrite = (line: string) => {
  batch += `${line}\n`;
  if (batch.length > 64 * 1024) {
    devNull.write(batch);
    batch = "";
  }
};
// Each variant has services of its own: one telemetry each, so no subscriber sees another's traffic.
const apps = await Promise.all(
  variants.map(async ([, extra]) => createApp({ ...(await createServices(parseEnv({ ...base, ...extra }))), logWrite })),
);
const slice = Number(a.slice);
const run = async (i: number) => {
  for (let k = 0; k < slice; k++) await (await apps[i]!.request("/users/1")).arrayBuffer();
};
for (let w = 0; w < 20; w++) for (let i = 0; i < apps.length; i++) await run(i); // JIT warm-up
const us: number[][] = apps.map(() => []);
for (let r = 0; r < Number(a.rounds); r++) {
  const order = apps.map((_, i) => i).sort(() => Math.random() - 0.5);
  for (const i of order) {
    const t0 = performance.now();
    await run(i);
    us[i]!.push(((performance.now() - t0) / slice) * 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`in-process GET /users/1 (memory cache), ${a.rounds} rounds × ${slice} requests per variant`);
variants.forEach(([name], i) => {
  const ratio = median(us[i]!.map((t, k) => t / us[0]![k]!));
  console.log(`${name.padEnd(18)} ${median(us[i]!).toFixed(2).padStart(7)} µs/request   ×${ratio.toFixed(3)} of off`);
});
process.exit(0);
