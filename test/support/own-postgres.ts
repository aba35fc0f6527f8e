import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLowPort } from "./ports";

// Debian keeps the server binaries out of PATH (see ../shared/scale-out.md).
const binDir = () => {
  const root = "/usr/lib/postgresql";
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined;
  if (!version) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  return join(root, version, "bin");
};

/** Postgres refuses to run as root: as root, run its tools as the postgres user. */
async function run(cmd: string[], dir: string) {
  const argv = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", cwd: dir });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}):\n${out}\n${err}`);
}

/**
 * A throwaway PostgreSQL server of the test's own (initdb in a temp dir, a free port below the
 * ephemeral range), so a test can stop it and start it again on the same port. close() stops it
 * and removes its directory; call it in finally/afterAll.
 */
export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), "hp-pg-"));
  if (process.getuid?.() === 0) chownSync(dir, Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim()), 0);
  const data = join(dir, "data");
  const bin = binDir();
  const port = await freeLowPort();
  let running = false;
  const start = async () => {
    // The socket in our own dir too: nothing shared with the machine's Postgres.
    const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`;
    await run([join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "start"], dir);
    running = true;
  };
  /** Immediate shutdown (no checkpoint): as close to a crash as pg_ctl gets, and fast. */
  const stop = async () => {
    if (!running) return;
    await run([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], dir);
    running = false;
  };
  try {
    await run([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], dir);
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
