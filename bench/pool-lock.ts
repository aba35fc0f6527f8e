// `bun run bench/pool-lock.ts [--src DIR] [--seconds 5]`: the pool queue under a locked table, and
// what it costs when nothing is locked. In-process (app.request, no HTTP), DB_POOL_MAX=2, on a
// database of its own (hotpath_bench_pool) under BENCH_PG_URL, cache in memory.
//
// 1. lock: another connection holds LOCK TABLE documents IN ACCESS EXCLUSIVE MODE; 4 loops read
//    documents, 2 loops read profiles (each id once: a miss that runs its statement). Reports the
//    profile reads' statuses and latency while the lock is held.
// 2. free: nothing locked, 8 loops on the first list page (uncached: one statement per request).
//
// --src points at another tree's src/ (e.g. the previous commit, extracted with git archive) to
// compare before and after on the same data.
import { parseArgs } from "node:util";
import postgres from "postgres";

const { values: args } = parseArgs({
  options: { src: { type: "string", default: new URL("../src", import.meta.url).pathname }, seconds: { type: "string", default: "5" } },
});
const seconds = Number(args.seconds);
const admin = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const url = new URL(admin);
url.pathname = "/hotpath_bench_pool";

const { parseEnv } = await import(`${args.src}/env.ts`);
const { createServices } = await import(`${args.src}/services.ts`);
const { createApp } = await import(`${args.src}/app.ts`);

const a = postgres(admin, { max: 1, onnotice: () => {} });
await a.unsafe("drop database if exists hotpath_bench_pool with (force)");
await a.unsafe("create database hotpath_bench_pool");
await a.end();

const env = parseEnv({ NODE_ENV: "production", LOG_LEVEL: "silent", DB_SEED_DEMO: "false", DATABASE_URL: url.toString(), DB_POOL_MAX: "2", ...(process.env.DB_POOL_RESERVED ? { DB_POOL_RESERVED: process.env.DB_POOL_RESERVED } : {}), ...(process.env.DB_POOL_MAX ? { DB_POOL_MAX: process.env.DB_POOL_MAX } : {}) });
const services = await createServices(env);
const app = createApp(services);
const seed = postgres(url.toString(), { max: 1, onnotice: () => {} });
await seed`insert into users (email, name) select 'u' || g || '@example.com', 'User ' || g from generate_series(1, 200000) g`;
await seed`insert into documents (user_id, title) select 1 + (g % 1000), 'Doc ' || g from generate_series(1, 20000) g`;
await seed`analyze`;

const pct = (xs: number[], p: number) => xs.sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function loop(until: number, path: () => string, out: { ms: number[]; status: Record<number, number> }) {
  while (performance.now() < until) {
    const t = performance.now();
    const res = await app.request(path());
    await res.arrayBuffer();
    out.ms.push(performance.now() - t);
    out.status[res.status] = (out.status[res.status] ?? 0) + 1;
  }
}

// 1. lock
let release!: () => void;
const held = new Promise<void>((r) => (release = r));
let locked!: () => void;
const isLocked = new Promise<void>((r) => (locked = r));
const tx = seed.begin(async (t) => {
  await t`lock table documents in access exclusive mode`;
  locked();
  await held;
});
await isLocked;
const users = { ms: [] as number[], status: {} as Record<number, number> };
const docs = { ms: [] as number[], status: {} as Record<number, number> };
let nextUser = 1;
let nextDoc = 1;
const until = performance.now() + seconds * 1000;
await Promise.all([
  ...Array.from({ length: 4 }, () => loop(until, () => `/documents/${nextDoc++}`, docs)),
  ...Array.from({ length: 2 }, () => loop(until, () => `/users/${nextUser++}`, users)),
]);
release();
await tx;
console.log(
  JSON.stringify({
    phase: "documents locked",
    src: args.src,
    profileReads: { n: users.ms.length, statuses: users.status, p50Ms: r2(pct(users.ms, 50)), p99Ms: r2(pct(users.ms, 99)), maxMs: r2(pct(users.ms, 100)) },
    documentReads: { n: docs.ms.length, statuses: docs.status, p50Ms: r2(pct(docs.ms, 50)) },
  }),
);

// 2. free
const list = { ms: [] as number[], status: {} as Record<number, number> };
let u = 0;
const warm = performance.now() + 1000;
await Promise.all(Array.from({ length: 8 }, () => loop(warm, () => `/users/${1 + (u++ % 1000)}/documents?limit=20`, { ms: [], status: {} })));
const end = performance.now() + seconds * 1000;
// Lists are not cached: one statement per request.
await Promise.all(Array.from({ length: 8 }, () => loop(end, () => `/users/${1 + (u++ % 1000)}/documents?limit=20`, list)));
console.log(
  JSON.stringify({
    phase: "nothing locked: first list page, 8 loops",
    reqPerS: Math.round(list.ms.length / seconds),
    statuses: list.status,
    p50Ms: r2(pct(list.ms, 50)),
    p99Ms: r2(pct(list.ms, 99)),
  }),
);
await seed.end();
await services.close();
process.exit(0);
