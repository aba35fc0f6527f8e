import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freeLowPort } from "./ports";

// A Postgres primary and a streaming replica of the test's own (initdb + pg_basebackup, see
// ../shared/scale-out.md), so a test can pause replay or stop the replica. Postgres refuses to
// run as root: every server command runs as the postgres user. Ports below the ephemeral range.

const BIN = "/usr/lib/postgresql/15/bin";

async function run(args: string[]): Promise<string> {
  const asPostgres = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const proc = Bun.spawn([...asPostgres, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}: ${err || out}`);
  return out;
}

const opts = (port: number) =>
  // Small and quick: no fsync (a test cluster), few connections, short checkpoints.
  `-p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40 -c shared_buffers=16MB -k /tmp`;

export interface PgPair {
  primaryUrl: string;
  replicaUrl: string;
  /** Admin connections (max 1 each): pause/resume replay, check state. */
  primary: postgres.Sql;
  replica: postgres.Sql;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary had written when called. */
  caughtUp(): Promise<void>;
  stopReplica(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the pair; on any failure stops whatever it started and rethrows. */
export async function startPgPair(): Promise<PgPair> {
  const dir = mkdtempSync(join(tmpdir(), "hp-pgpair-"));
  chmodSync(dir, 0o777);
  const P = join(dir, "primary");
  const R = join(dir, "replica");
  const started: string[] = [];
  let primary: postgres.Sql | undefined;
  let replica: postgres.Sql | undefined;
  const stopAll = async () => {
    await Promise.allSettled([primary?.end({ timeout: 1 }), replica?.end({ timeout: 1 })]);
    for (const d of started.reverse()) await run([`${BIN}/pg_ctl`, "-D", d, "-m", "immediate", "-w", "stop"]).catch(() => {});
    started.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pPort = await freeLowPort();
    const rPort = await freeLowPort();
    await run([`${BIN}/initdb`, "-D", P, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"]);
    await run([`${BIN}/pg_ctl`, "-D", P, "-o", opts(pPort), "-l", `${P}.log`, "-w", "start"]);
    started.push(P);
    await run([`${BIN}/pg_basebackup`, "-h", "127.0.0.1", "-p", String(pPort), "-U", "postgres", "-D", R, "-R", "-X", "stream", "-C", "-S", "r1", "--no-sync"]);
    await run([`${BIN}/pg_ctl`, "-D", R, "-o", opts(rPort), "-l", `${R}.log`, "-w", "start"]);
    started.push(R);
    const primaryUrl = `postgres://postgres@127.0.0.1:${pPort}/postgres`;
    const replicaUrl = `postgres://postgres@127.0.0.1:${rPort}/postgres`;
    primary = postgres(primaryUrl, { max: 1, onnotice: () => {} });
    replica = postgres(replicaUrl, { max: 1, onnotice: () => {} });
    const p = primary;
    const r = replica;
    const caughtUp = async () => {
      const [row] = await p<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
      const lsn = row!.lsn;
      for (;;) {
        const [row2] = await r<{ ok: boolean }[]>`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as ok`;
        if (row2!.ok) return;
        await Bun.sleep(20);
      }
    };
    await caughtUp();
    return {
      primaryUrl,
      replicaUrl,
      primary: p,
      replica: r,
      pauseReplay: async () => void (await r`select pg_wal_replay_pause()`),
      resumeReplay: async () => void (await r`select pg_wal_replay_resume()`),
      caughtUp,
      async stopReplica() {
        await r.end({ timeout: 1 });
        await run([`${BIN}/pg_ctl`, "-D", R, "-m", "immediate", "-w", "stop"]);
        started.splice(started.indexOf(R), 1);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
