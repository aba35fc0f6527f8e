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

/**
 * Starts one server under test as its own process on 127.0.0.1 and waits until `readyPath`
 * answers 200. Its output is kept (last 4 KB) for the error message if it dies or never gets ready.
 */
export async function startServer(
  name: string,
  cmd: string[],
  env: Record<string, string>,
  readyPath = "/healthz",
  timeoutMs = 30_000,
): Promise<Server> {
  const port = freePort();
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    // No drain period on stop: nothing balances load onto these servers (it would add 3 s per stop).
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SHUTDOWN_DRAIN_S: "0", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let log = "";
  const keep = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) log = (log + new TextDecoder().decode(chunk)).slice(-4096);
  };
  void keep(proc.stdout);
  void keep(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode !== null) return;
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
    await proc.exited;
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode} before it was ready:\n${log}`);
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        return { name, url, hostPort: `127.0.0.1:${port}`, port, pid: proc.pid, stop, log: () => log, exited: () => proc.exitCode !== null };
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${name} not ready after ${timeoutMs} ms:\n${log}`);
}
