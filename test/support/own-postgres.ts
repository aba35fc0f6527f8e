import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asPostgres, pgCtl, PG_BIN, serverOptions, shareDir } from "../../bench/standby";
import { freeLowPort } from "./ports";

/** Server settings on top of serverOptions(), e.g. { shared_preload_libraries: "pg_stat_statements" }. */
export type PgSettings = Record<string, string | number>;

export interface OwnPostgres {
  port: number;
  url: string;
  /** The cluster's data directory (a pg_basebackup source needs nothing else). */
  data: string;
  /** Starts it again on the same port, with these settings instead of the ones it had. */
  start(settings?: PgSettings): Promise<void>;
  /** Immediate shutdown (no checkpoint): as close to a crash as pg_ctl gets, and fast. */
  stop(): Promise<void>;
  /** SIGSTOP the postmaster: new connections hang in their startup (the kernel still accepts them). */
  pause(): void;
  resume(): void;
  /** Stops it (even paused) and removes its directory; call it in finally/afterAll. */
  close(): Promise<void>;
}

/**
 * The one way tests get a throwaway PostgreSQL server of their own: initdb in a temp dir, a free
 * port below the ephemeral range (so it can be stopped and started again on the same port), run
 * as the postgres user. Setup that fails stops what it started.
 */
export async function startPostgres(opts: { settings?: PgSettings; maxConnections?: number } = {}): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "hp-pg-"));
  shareDir(dir);
  const data = join(dir, "data");
  const port = await freeLowPort();
  let settings = opts.settings ?? {};
  let running = false;
  const options = () =>
    serverOptions(port, opts.maxConnections) +
    Object.entries(settings).map(([k, v]) => ` -c ${k}=${v}`).join("");
  const start = async (next?: PgSettings) => {
    if (next) settings = next;
    await pgCtl(data, "-o", options(), "-l", join(dir, "log"), "-w", "-t", "60", "start");
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await pgCtl(data, "-m", "immediate", "-w", "stop");
    running = false;
  };
  const postmaster = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const close = async () => {
    // A paused postmaster would never stop.
    try {
      if (running) process.kill(postmaster(), "SIGCONT");
    } catch {}
    await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres([join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"]);
    await start();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    data,
    start,
    stop,
    pause: () => process.kill(postmaster(), "SIGSTOP"),
    resume: () => process.kill(postmaster(), "SIGCONT"),
    close,
  };
}
