import type { Subprocess } from "bun";
import { availableParallelism } from "node:os";
import { childEnv, type Env } from "../env";
import type { Logger } from "../lib/log";
import { WORKER_ENV, type FromWorker, type ToWorker } from "./protocol";

/** WORKERS=auto: one server process per core the process may use. */
export const workerCount = (workers: Env["WORKERS"]) => (workers === "auto" ? availableParallelism() : workers);

/** Whether this process is one of the servers a supervisor started. */
export const isWorker = (env: Pick<Env, "HOTPATH_WORKER">) => env.HOTPATH_WORKER !== undefined;

/** How long a metrics gathering waits for the workers' answers (a worker that died never answers). */
const GATHER_TIMEOUT_MS = 1000;
/** A worker that exits on its own is started again after this (a crash loop stays slow). */
const RESTART_DELAY_MS = 1000;

/**
 * The primary process of WORKERS=N (README "All cores"): starts N copies of this entry point that
 * listen on the same port (Bun.serve reusePort; the kernel spreads new connections over them),
 * relays metrics gatherings between them (link.ts), forwards SIGTERM/SIGINT so each drains as one
 * process would (lifecycle.ts), and exits once all have exited: 0 when every one exited 0.
 * It serves nothing and opens no database or Redis connection itself.
 */
export function supervise(opts: { n: number; env: Pick<Env, "HOST" | "PORT">; log: Logger }) {
  const { n, log } = opts;
  // Every worker must bind the same port: PORT=0 is resolved here once (the OS hands one out).
  let port = opts.env.PORT;
  if (port === 0) {
    const probe = Bun.listen({ hostname: opts.env.HOST, port: 0, socket: { data() {} } });
    port = probe.port;
    probe.stop(true);
  }
  const workers = new Map<number, Subprocess>();
  let stopping: string | undefined;
  let failed = false;
  let allExited!: () => void;
  const done = new Promise<void>((r) => (allExited = r));
  // A gathering asked for by one worker: every live worker's metrics, sent back to the asker.
  const gatherings = new Map<string, { asker: Subprocess; reqId: number; got: unknown[]; expected: number; timer: Timer }>();

  const finish = (key: string) => {
    const g = gatherings.get(key);
    if (!g) return;
    gatherings.delete(key);
    clearTimeout(g.timer);
    send(g.asker, { t: "gathered", id: g.reqId, list: g.got });
  };
  const send = (to: Subprocess, msg: ToWorker) => {
    try {
      to.send(msg);
    } catch {
      // The worker exited meanwhile: nothing to answer.
    }
  };

  const start = (i: number) => {
    const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
      env: childEnv({ PORT: String(port), [WORKER_ENV]: String(i) }),
      stdio: ["ignore", "inherit", "inherit"],
      ipc(msg: FromWorker, from) {
        if (msg.t === "gather") {
          const key = `${from.pid}:${msg.id}`;
          const live = [...workers.values()].filter((w) => w.exitCode === null);
          gatherings.set(key, { asker: from, reqId: msg.id, got: [], expected: live.length, timer: setTimeout(() => finish(key), GATHER_TIMEOUT_MS) });
          for (const w of live) send(w, { t: "collect", id: key });
        } else if (msg.t === "metrics") {
          const g = gatherings.get(msg.id);
          if (!g) return;
          g.got.push(msg.json);
          if (g.got.length >= g.expected) finish(msg.id);
        }
      },
    });
    workers.set(i, child);
    void child.exited.then((code) => {
      workers.delete(i);
      if (stopping) {
        if (code !== 0) failed = true;
        if (workers.size === 0) allExited();
        return;
      }
      log.error("worker exited; starting it again", { worker: i, pid: child.pid, code, restartInMs: RESTART_DELAY_MS });
      setTimeout(() => (stopping ? workers.size === 0 && allExited() : start(i)), RESTART_DELAY_MS);
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = signal;
    log.info("supervisor: forwarding to the workers", { signal, workers: workers.size });
    if (workers.size === 0) allExited();
    for (const w of workers.values()) w.kill(signal);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  for (let i = 1; i <= n; i++) start(i);
  log.info("supervisor started", { workers: n, port, pid: process.pid });
  return done.then(() => {
    const code = failed ? 1 : 0;
    log.info("supervisor: every worker exited", { code });
    return code;
  });
}
