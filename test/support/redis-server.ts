import type { Subprocess } from "bun";
import Redis from "ioredis";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLowPort } from "./ports";

/**
 * A throwaway redis-server of the test's own, so a test can pause, kill and restart it. Its data
 * directory is the test's too: `save()` writes dump.rdb there and `start()` after `kill()` comes
 * back on the same port with that snapshot, like a Redis restarted from its dump.
 */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), "hp-redis-"));
  let proc: Subprocess | undefined;
  let port = 0;
  const url = () => `redis://127.0.0.1:${port}`;

  const start = async () => {
    proc = Bun.spawn(
      ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", "dump.rdb"],
      { stdout: "ignore", stderr: "ignore" },
    );
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => {});
    try {
      for (let i = 0; i < 100 && proc.exitCode === null; i++) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch {
          await Bun.sleep(50);
        }
      }
    } finally {
      probe.disconnect();
    }
    proc.kill("SIGKILL");
    await proc.exited;
    throw new Error(`redis-server on ${port} did not start`);
  };
  const kill = async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
  };
  const stop = async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };

  // The port was free when picked; if another process took it since, pick again.
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freeLowPort();
    try {
      await start();
      lastErr = undefined;
      break;
    } catch (err) {
      lastErr = err;
    }
  }
  if (lastErr) {
    await stop();
    throw lastErr;
  }

  return {
    get port() {
      return port;
    },
    get url() {
      return url();
    },
    dir,
    /** (Re)starts on the same port and directory, loading dump.rdb if `save()` wrote one. */
    start,
    /** kill -9: no shutdown save, the data since the last `save()` is gone. */
    kill,
    /** SIGSTOP: the process keeps its sockets but answers nothing, like a stalled server. */
    pause: () => void proc?.kill("SIGSTOP"),
    resume: () => void proc?.kill("SIGCONT"),
    async save() {
      const admin = new Redis(url(), { maxRetriesPerRequest: 0 });
      admin.on("error", () => {});
      try {
        await admin.save();
      } finally {
        admin.disconnect();
      }
    },
    /** Kills it (even paused) and removes its directory. */
    stop,
  };
}
