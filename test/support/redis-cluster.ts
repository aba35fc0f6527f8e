import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Three redis-server masters in cluster mode on random ports, joined with redis-cli --cluster. */
export async function startRedisCluster() {
  // Below the ephemeral range (32768+), bus ports (port + 10000) included: a node port or bus port
  // in that range can be held by a connection's local end and the node fails to bind.
  const base = 10000 + Math.floor(Math.random() * 12000);
  const ports = [base, base + 1, base + 2];
  const dir = mkdtempSync(join(tmpdir(), "hp-cluster-"));
  const procs: Subprocess[] = ports.map((port) =>
    Bun.spawn(
      ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
        "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--save", "", "--appendonly", "no", "--dir", dir],
      { stdout: "ignore", stderr: "ignore" },
    ),
  );
  const stop = async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  for (const port of ports) {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = Bun.spawnSync(["redis-cli", "-p", String(port), "ping"]).stdout.toString().includes("PONG");
      if (!up) await Bun.sleep(50);
    }
    if (!up) {
      await stop();
      throw new Error(`cluster node ${port} did not start`);
    }
  }
  const create = Bun.spawnSync(["redis-cli", "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
  if (create.exitCode !== 0) {
    await stop();
    throw new Error(`cluster create failed: ${create.stdout}${create.stderr}`);
  }
  for (let i = 0; i < 100; i++) {
    const info = Bun.spawnSync(["redis-cli", "-p", String(base), "cluster", "info"]).stdout.toString();
    if (info.includes("cluster_state:ok")) return { nodes: ports.map((p) => `127.0.0.1:${p}`), stop };
    await Bun.sleep(100);
  }
  await stop();
  throw new Error("cluster did not reach state ok");
}
