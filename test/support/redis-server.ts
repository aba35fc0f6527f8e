import type { Subprocess } from "bun";
import Redis from "ioredis";
import { freePort } from "./port";

/** A throwaway redis-server of the test's own, so a test can stop, pause or kill it. */
export async function startRedis(port = freePort()) {
  let proc: Subprocess | undefined;
  const start = async () => {
    proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await Bun.sleep(50);
      }
    }
    throw new Error(`redis-server on ${port} did not start`);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    async kill() {
      proc?.kill("SIGKILL");
      await proc?.exited;
    },
  };
}
