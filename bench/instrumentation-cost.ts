import { BENCH_JWT_SECRET } from "./auth";
import { parseArgs } from "node:util";
import postgres from "postgres";

// What does "instrumentation on" cost? Two servers over the same database and Redis, one with
// INSTRUMENTATION=on (Server-Timing, request accounting, route table, Prometheus, slow-query
// watch, request log at LOG_LEVEL) and one with it off, driven in turn with a cached read on
// 127.0.0.1, alternating which goes first each round so drift hits both alike.
//   bun run bench/instrumentation-cost.ts [--rounds 15] [--seconds 2] [--connections 32] [--path /users/1]
// Each window is bounded in time (--seconds) and count (--max-requests). wrk drives the load when
// installed (its C client leaves the CPU to the server); otherwise a fetch loop in this process.
// Two ratios per round: requests/s (what the issue asks), and server CPU per request (from
// /proc/<pid>/stat), which other processes on a shared machine disturb far less.

const { values: a } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    seconds: { type: "string", default: "2" },
    "max-requests": { type: "string", default: "500000" },
    connections: { type: "string", default: "32" },
    path: { type: "string", default: "/users/1" },
    "log-level": { type: "string", default: "info" },
    loader: { type: "string", default: Bun.which("wrk") ? "wrk" : "fetch" },
  },
});
const rounds = Number(a.rounds);
const seconds = Number(a.seconds);
const maxRequests = Number(a["max-requests"]);
const connections = Number(a.connections);
const ROOT = new URL("..", import.meta.url).pathname;
const ADMIN = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const dbName = "hotpath_bench_instrumentation";
const dbUrl = Object.assign(new URL(ADMIN), { pathname: `/${dbName}` }).toString();

const admin = postgres(ADMIN, { max: 1, onnotice: () => {} });
const [exists] = await admin`select 1 from pg_database where datname = ${dbName}`;
if (!exists) await admin.unsafe(`create database "${dbName}"`);
await admin.end();

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function start(mode: "on" | "off") {
  const port = freePort();
  const proc = Bun.spawn(["bun", "src/index.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: dbUrl,
      DB_SEED_DEMO: "true", // the demo set (user 1) it reads; off by default with DATABASE_URL
      REDIS_URL: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: "hpbench-instr",
      INSTRUMENTATION: mode,
      LOG_LEVEL: a["log-level"],
      DEBUG_TOKEN: "bench-debug-token-0123",
      JWT_SECRET: BENCH_JWT_SECRET,
    },
    stdout: "ignore", // the request log is written (and its cost paid), then discarded
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { url, proc };
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error(`server (${mode}) did not come up`);
}

/** User + system CPU seconds of a process, all threads (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const fields = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}

async function measure(server: { url: string; proc: { pid: number } }, s: number) {
  const cpu0 = cpuSeconds(server.proc.pid);
  const rps = await drive(server.url, s);
  const cpuPerReqUs = ((cpuSeconds(server.proc.pid) - cpu0) / (rps * s)) * 1e6;
  return { rps, cpuPerReqUs };
}

async function drive(url: string, s: number): Promise<number> {
  if (a.loader === "wrk") {
    const p = Bun.spawnSync(["wrk", "-t1", `-c${connections}`, `-d${s}s`, `${url}${a.path}`]);
    const m = /Requests\/sec:\s+([\d.]+)/.exec(p.stdout.toString());
    if (!m) throw new Error(`wrk: ${p.stdout}${p.stderr}`);
    return Number(m[1]);
  }
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + s * 1000;
  const worker = async () => {
    while (performance.now() < deadline && done < maxRequests) {
      const r = await fetch(`${url}${a.path}`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${a.path} answered ${r.status}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return done / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const servers = { on: await start("on"), off: await start("off") };
try {
  const check = await fetch(`${servers.on.url}${a.path}`);
  if (check.status !== 200) throw new Error(`${a.path} answered ${check.status}; pick a path that exists`);
  console.log(`GET ${a.path}, ${connections} connections, ${rounds} rounds × ${seconds} s per mode, loader ${a.loader}, LOG_LEVEL=${a["log-level"]}`);
  for (const m of ["on", "off"] as const) await drive(servers[m].url, 1); // warm-up: JIT, pool, cache
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? (["off", "on"] as const) : (["on", "off"] as const);
    const got: Record<string, { rps: number; cpuPerReqUs: number }> = {};
    for (const m of order) got[m] = await measure(servers[m], seconds);
    const { on, off } = got as { on: { rps: number; cpuPerReqUs: number }; off: { rps: number; cpuPerReqUs: number } };
    ratios.push(on.rps / off.rps);
    cpuRatios.push(on.cpuPerReqUs / off.cpuPerReqUs);
    console.log(
      `round ${String(r + 1).padStart(2)}: on ${on.rps.toFixed(0)} req/s ${on.cpuPerReqUs.toFixed(1)} µs cpu/req, ` +
        `off ${off.rps.toFixed(0)} req/s ${off.cpuPerReqUs.toFixed(1)} µs cpu/req, on/off ${ratios.at(-1)!.toFixed(3)}`,
    );
  }
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
  const med = median(ratios);
  const cpu = median(cpuRatios);
  console.log(`requests/s on/off: median ${med.toFixed(3)} (cost ${((1 - med) * 100).toFixed(1)} %), spread ${spread(ratios)}`);
  console.log(`server CPU per request on/off: median ${cpu.toFixed(3)} (cost ${((cpu - 1) * 100).toFixed(1)} %), spread ${spread(cpuRatios)}`);
} finally {
  servers.on.proc.kill();
  servers.off.proc.kill();
  await Promise.all([servers.on.proc.exited, servers.off.proc.exited]);
}
