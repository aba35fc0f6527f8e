import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asPostgres, PG_BIN } from "../../bench/standby";
import { freeLowPort } from "./ports";

/**
 * A throwaway PostgreSQL server of the test's own (initdb in a temp dir, a free port below the
 * ephemeral range), so a test can stop it and start it again on the same port. close() stops it
 * and removes its directory; call it in finally/afterAll.
 */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), "hp-pg-"));
  if (process.getuid?.() === 0) chownSync(dir, Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim()), 0);
  const data = join(dir, "data");
  const port = await freeLowPort();
  let running = false;
  const start = async () => {
    // The socket in our own dir too: nothing shared with the machine's Postgres.
    const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`;
    await asPostgres([join(PG_BIN, "pg_ctl"), "-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "start"]);
    running = true;
  };
  /** Immediate shutdown (no checkpoint): as close to a crash as pg_ctl gets, and fast. */
  const stop = async () => {
    if (!running) return;
    await asPostgres([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
    running = false;
  };
  try {
    await asPostgres([join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await start();
  } catch (err) {
    await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  /** The postmaster: SIGSTOP it and new connections hang in their startup (the kernel still accepts them). */
  const postmaster = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    pause: () => process.kill(postmaster(), "SIGSTOP"),
    resume: () => process.kill(postmaster(), "SIGCONT"),
    async close() {
      // A paused postmaster would never stop.
      try {
        if (running) process.kill(postmaster(), "SIGCONT");
      } catch {}
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
