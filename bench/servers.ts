import { closeSync, mkdirSync, openSync, readSync, rmSync, fstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "./config";
import { freePort, sleep } from "./exec";

export interface Server {
  name: string;
  url: string;
  hostPort: string;
  port: number;
  pid: number;
  /** The last 4 KB of its output, and whether it has exited (for error messages). */
  log(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/** Servers' output files; each is removed when its server stops, the directory by run.ts. */
export const LOG_DIR = `${tmpdir()}/hotpath-bench-logs-${process.pid}`;

/** The last `bytes` of a file. */
function tail(path: string, bytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Starts one server under test as its own process on 127.0.0.1 and waits until `readyPath`
 * answers 200. Its stdout and stderr go to a file (not a pipe this process would have to drain:
 * a request log at LOG_LEVEL=info is megabytes a second, and reading it here would take CPU from
 * the cores being measured); the file's last 4 KB go into the error message if it dies or never
 * gets ready.
 */
export async function startServer(
  name: string,
  cmd: string[],
  env: Record<string, string>,
  readyPath = "/healthz",
  timeoutMs = 30_000,
): Promise<Server> {
  const port = freePort();
  mkdirSync(LOG_DIR, { recursive: true });
  const logPath = `${LOG_DIR}/${name}-${port}.log`;
  const out = openSync(logPath, "a");
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    // No drain period on stop: nothing balances load onto these servers (it would add 3 s per stop).
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SHUTDOWN_DRAIN_S: "0", ...env },
    stdout: out,
    stderr: out,
  });
  closeSync(out); // the child holds its own copy
  const log = () => tail(logPath);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
      if (!exited) proc.kill("SIGKILL");
      await proc.exited;
    }
    rmSync(logPath, { force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode} before it was ready:\n${log()}`);
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        return { name, url, hostPort: `127.0.0.1:${port}`, port, pid: proc.pid, stop, log, exited: () => proc.exitCode !== null };
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const last = log();
  await stop();
  throw new Error(`${name} not ready after ${timeoutMs} ms:\n${last}`);
}
