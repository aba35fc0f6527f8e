import { hc } from "hono/client";
import type { AppType } from "../src/app";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Options } from "./config";
import { exec, freePort, sleep } from "./exec";
import { compareOn, services, type Cells, type Say } from "./scenarios";
import type { Server } from "./servers";
import { asPostgres, pgCtl, PG_BIN, serverOptions, shareDir, startStandby } from "./standby";
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
export async function workersPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  say("starting servers");
  const [one, two] = await services(o, servers, [["workers-1", {}], ["workers-2", { WORKERS: "2" }]]);
  await allWorkersServe(two!, 2);
  await compareOn(o, w, cells, say, "workers", WORKER_ENDPOINTS, [["workers-1", one!], ["workers-2", two!]]);
}

/**
 * The list pages (uncached: the reads a replica takes) with one streaming replica vs the primary
 * only. Both sides run on a primary of the phase's own (initdb, migrated and seeded with the
 * profile's data set by the project's own commands) and its pg_basebackup standby: the shared
 * Postgres may refuse replication connections, and a base backup of it would copy every database
 * it holds. Everything is stopped at the end of the phase, or when its setup fails.
 */
export async function replicaPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  const dir = mkdtempSync(join(tmpdir(), "hp-bench-replica-"));
  shareDir(dir);
  const P = join(dir, "primary");
  let primaryStarted = false;
  let standby: Awaited<ReturnType<typeof startStandby>> | undefined;
  const mine: Server[] = [];
  try {
    const port = freePort();
    say(`replica: a primary of its own on ${port} (initdb)`);
    await asPostgres([`${PG_BIN}/initdb`, "-D", P, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"]);
    await pgCtl(P, "-o", serverOptions(port, 100), "-l", `${P}.log`, "-w", "start");
    primaryStarted = true;
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const dbUrl = `postgres://postgres@127.0.0.1:${port}/${o.profile.db}`;
    await exec([`${PG_BIN}/createdb`, "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", o.profile.db], {});
    const env = { DATABASE_URL: dbUrl, LOG_LEVEL: "warn", DB_SEED_DEMO: "false", REDIS_URL: "" };
    await exec(["bun", "run", "db:migrate"], env);
    say(`replica: seeding ${o.profile.users} users, ${o.profile.documents} documents`);
    await exec(["bun", "run", "db:seed", "--users", String(o.profile.users), "--documents", String(o.profile.documents)], env);
    say("replica: pg_basebackup of that primary");
    standby = await startStandby(admin, join(dir, "standby"), freePort());
    say("starting servers");
    const [primaryOnly, withReplica] = await services(o, mine, [
      ["primary-only", { DATABASE_URL: dbUrl }],
      ["replica-1", { DATABASE_URL: dbUrl, DATABASE_REPLICA_URLS: standby.url(o.profile.db) }],
    ]);
    servers.push(...mine);
    // The service must route to it: its readiness lists the replica as "ok".
    const res = await hc<AppType>(withReplica!.url).readyz.$get();
    if (res.status !== 200) throw new Error(`replica service not ready: ${res.status}`);
    const ready = await res.json();
    if (!Object.entries(ready.checks).some(([k, v]) => k.startsWith("replica ") && v === "ok")) throw new Error(`replica not used: ${JSON.stringify(ready)}`);
    await compareOn(o, w, cells, say, "replica", REPLICA_ENDPOINTS, [["primary-only", primaryOnly!], ["replica-1", withReplica!]]);
  } finally {
    for (const s of mine) {
      await s.stop();
      if (servers.includes(s)) servers.splice(servers.indexOf(s), 1);
    }
    await standby?.stop().catch(() => {});
    if (primaryStarted) await pgCtl(P, "-m", "immediate", "-w", "stop").catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
