import { readdirSync, readFileSync } from "node:fs";

// CPU time from /proc (pg_stat_statements needs shared_preload_libraries and a restart, so it is
// not assumed). The Postgres cluster is shared with whatever else runs on the machine (other
// projects' tests), so database CPU is attributed, not summed:
//   Σ over live backends of the bench's databases (process title "postgres: <user> <db> …") and
//     their parallel workers, of the utime + stime spent during the window;
//   + the postmaster's cutime + cstime gained during the window (it reaps every backend, so a
//     backend that exits mid-window — the naive server's connection per request — still counts),
//     less what exited processes had already spent before the window.
// Background processes (checkpointer, WAL writer, autovacuum) are not counted. What remains of
// other activity is only that of foreign processes that exit during a window.

const TICK_MS = 1000 / 100; // CLK_TCK is 100 on Linux x86-64

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime */
  own: number;
  /** cutime + cstime (children reaped) */
  children: number;
}

function readProc(pid: number): Proc | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const f = text.slice(close + 2).split(" ");
    // After "(comm) ": state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
    return { pid, ppid: Number(f[1]), comm: text.slice(text.indexOf("(") + 1, close), own: +f[11]! + +f[12]!, children: +f[13]! + +f[14]! };
  } catch {
    return null; // exited between readdir and read
  }
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
};

/** Only the Redis the service uses: tests on this machine start redis-server nodes of their own. */
const REDIS_PORT = new URL(process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379").port || "6379";

/** CPU ms the whole machine has been busy (all cores), from /proc/stat. */
function machineBusy(): number {
  // "cpu  user nice system idle iowait irq softirq steal …": everything but idle and iowait.
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return f.reduce((a, v, i) => (i === 3 || i === 4 ? a : a + v), 0) * TICK_MS;
}

export interface CpuSample {
  busy: number;
  /** Every postgres process: ticks spent, and whether it works for the bench's databases. */
  pg: Map<number, { own: number; ours: boolean }>;
  postmasterChildren: number;
  redis: number;
  server: number;
}

/** The databases whose backends count as "ours" (set once by run.ts). */
export const benchDatabases: string[] = [];

export function sampleCpu(serverPid: number | undefined, databases: string[] = benchDatabases): CpuSample {
  const procs: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    const p = Number.isInteger(pid) ? readProc(pid) : null;
    if (p) procs.push(p);
  }
  const pg = new Map<number, { own: number; ours: boolean }>();
  const workers: [Proc, number][] = [];
  let postmasterChildren = 0;
  for (const p of procs.filter((q) => q.comm === "postgres")) {
    const title = cmdline(p.pid);
    const worker = /parallel worker for PID (\d+)/.exec(title);
    if (worker) workers.push([p, Number(worker[1])]);
    // "postgres: [cluster_name: ]<user> <database> <host(port)> <state>"
    else pg.set(p.pid, { own: p.own, ours: databases.includes(/^postgres: (?:\S+: )?\S+ (\S+) /.exec(title)?.[1] ?? "") });
    if (!title.startsWith("postgres:")) postmasterChildren += p.children; // the postmaster's title is its command line
  }
  for (const [p, leader] of workers) pg.set(p.pid, { own: p.own, ours: pg.get(leader)?.ours ?? false });
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const isUnder = (p: Proc, root: number) => {
    for (let q: Proc | undefined = p; q; q = q.ppid > 1 ? byPid.get(q.ppid) : undefined) if (q.pid === root) return true;
    return false;
  };
  const server = serverPid === undefined ? 0 : procs.filter((p) => isUnder(p, serverPid)).reduce((a, p) => a + p.own + p.children, 0);
  const redis = procs
    .filter((p) => p.comm === "redis-server" && cmdline(p.pid).includes(`:${REDIS_PORT}`))
    .reduce((a, p) => a + p.own, 0);
  return { busy: machineBusy(), pg, postmasterChildren, redis, server };
}

/** CPU milliseconds spent between two samples, per role. */
export function cpuDelta(a: CpuSample, b: CpuSample): { postgres: number; redis: number; server: number; busy: number } {
  let pg = b.postmasterChildren - a.postmasterChildren;
  for (const [pid, now] of b.pg) if (now.ours) pg += now.own - (a.pg.get(pid)?.own ?? 0);
  for (const [pid, then] of a.pg) if (!b.pg.has(pid)) pg -= then.own; // exited: its total came in through the postmaster
  const busy = b.busy - a.busy;
  return { postgres: Math.max(0, pg) * TICK_MS, redis: (b.redis - a.redis) * TICK_MS, server: (b.server - a.server) * TICK_MS, busy };
}
