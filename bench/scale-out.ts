import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PG_ADMIN_URL, type Options } from "./config";
import { freePort, sleep } from "./exec";
import type { Generator } from "./load";
import { compareOn, services, type Cells, type Say } from "./scenarios";
import type { Server } from "./servers";
import { shareDir, startStandby } from "./standby";
import type { Workload } from "./workload";

// Scale-out cells (README "Scaling out"): WORKERS=2 ÷ WORKERS=1, and one read replica ÷ primary
// only, each pair interleaved window by window like every other comparison.

export const WORKER_ENDPOINTS = ["profile", "first"] as const;
export const REPLICA_ENDPOINTS = ["first", "next"] as const;

/** Until new connections have reached `n` distinct workers (the last one may still be starting). */
async function allWorkersServe(server: Server, n: number): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + 30_000;
  while (seen.size < n) {
    if (Date.now() > deadline) throw new Error(`${server.name}: only workers ${[...seen].join(", ")} answered in 30 s`);
    const res = await fetch(`${server.url}/healthz`, { keepalive: false, headers: { connection: "close" } }).catch(() => undefined);
    const body = (await res?.json().catch(() => undefined)) as { worker?: string } | undefined;
    if (body?.worker) seen.add(body.worker);
    else await sleep(20);
  }
}

/** The cached profile read and the first list page, WORKERS=1 vs WORKERS=2 (the same Postgres and Redis). */
export async function workersPhase(o: Options, gen: Generator, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  say("starting servers");
  const [one, two] = await services(o, servers, [["workers-1", {}], ["workers-2", { WORKERS: "2" }]]);
  await allWorkersServe(two!, 2);
  await compareOn(o, gen, w, cells, say, "workers", WORKER_ENDPOINTS, [["workers-1", one!], ["workers-2", two!]]);
}

/**
 * The list pages (uncached: the reads a replica takes) with one streaming replica vs the primary
 * only. The replica is a pg_basebackup of the bench's own Postgres on this machine, started here
 * and stopped at the end of the phase (after the servers that use it).
 */
export async function replicaPhase(o: Options, gen: Generator, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  const dir = mkdtempSync(join(tmpdir(), "hp-bench-standby-"));
  shareDir(dir);
  say("replica: pg_basebackup of the bench Postgres");
  const standby = await startStandby(PG_ADMIN_URL, join(dir, "standby"), freePort()).catch((err) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const mine: Server[] = [];
  try {
    say("starting servers");
    const [primaryOnly, withReplica] = await services(o, mine, [["primary-only", {}], ["replica-1", { DATABASE_REPLICA_URLS: standby.url(o.profile.db) }]]);
    servers.push(...mine);
    // The service must route to it: its readiness lists the replica as "ok".
    const ready = (await (await fetch(`${withReplica!.url}/readyz`)).json()) as { checks: Record<string, string> };
    if (!Object.entries(ready.checks).some(([k, v]) => k.startsWith("replica ") && v === "ok")) throw new Error(`replica not used: ${JSON.stringify(ready)}`);
    await compareOn(o, gen, w, cells, say, "replica", REPLICA_ENDPOINTS, [["primary-only", primaryOnly!], ["replica-1", withReplica!]]);
  } finally {
    for (const s of mine) {
      await s.stop();
      if (servers.includes(s)) servers.splice(servers.indexOf(s), 1);
    }
    await standby.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
