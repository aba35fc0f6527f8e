import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLowPort } from "./ports";

/** Redis Cluster listens on port + 10000 too (the cluster bus), so ports stay below 22768. */
const BUS_OFFSET = 10000;

/**
 * Three redis-server masters in cluster mode, joined with redis-cli --cluster. Ports are below
 * the ephemeral range and checked free with their bus ports; whatever fails during setup, every
 * node started is stopped before the error is thrown.
 */
export async function startRedisCluster() {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const base = await freeLowPort({ offsets: [BUS_OFFSET], count: 3 });
    const ports = [base, base + 1, base + 2];
    const dir = mkdtempSync(join(tmpdir(), "hp-cluster-"));
    const procs: Subprocess[] = [];
    const stop = async () => {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      for (const port of ports) {
        procs.push(
          Bun.spawn(
            ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
              "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--save", "", "--appendonly", "no", "--dir", dir],
            { stdout: "ignore", stderr: "ignore" },
          ),
        );
      }
      for (const [i, port] of ports.entries()) {
        let up = false;
        for (let n = 0; n < 100 && !up && procs[i]!.exitCode === null; n++) {
          up = Bun.spawnSync(["redis-cli", "-p", String(port), "ping"]).stdout.toString().includes("PONG");
          if (!up) await Bun.sleep(50);
        }
        if (!up) throw new Error(`cluster node ${port} did not start`);
      }
      const create = Bun.spawnSync(["redis-cli", "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
      if (create.exitCode !== 0) throw new Error(`cluster create failed: ${create.stdout}${create.stderr}`);
      for (let n = 0; n < 100; n++) {
        const info = Bun.spawnSync(["redis-cli", "-p", String(base), "cluster", "info"]).stdout.toString();
        if (info.includes("cluster_state:ok")) return { nodes: ports.map((p) => `127.0.0.1:${p}`), stop };
        await Bun.sleep(100);
      }
      throw new Error("cluster did not reach state ok");
    } catch (err) {
      lastErr = err;
      await stop();
    }
  }
  throw lastErr;
}
