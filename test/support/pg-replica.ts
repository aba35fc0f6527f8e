import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { shareDir, startStandby } from "../../bench/standby";
import { startPostgres, type OwnPostgres } from "./own-postgres";
import { freeLowPort } from "./ports";

// A Postgres primary and a streaming replica of the test's own (initdb + pg_basebackup, see
// ../shared/scale-out.md), so a test can pause replay or stop the replica. Ports below the
// ephemeral range; everything is stopped by stop(), or at once when setup fails.

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
  /** Starts the stopped replica again on its port (replay catches up from the primary). */
  restartReplica(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPgPair(): Promise<PgPair> {
  const dir = mkdtempSync(join(tmpdir(), "hp-pgpair-"));
  shareDir(dir);
  const R = join(dir, "replica");
  let own: OwnPostgres | undefined;
  let standby: { stop(): Promise<void>; restart(): Promise<void> } | undefined;
  let stopped: typeof standby;
  let primary: postgres.Sql | undefined;
  let replica: postgres.Sql | undefined;
  const stopAll = async () => {
    await Promise.allSettled([primary?.end({ timeout: 1 }), replica?.end({ timeout: 1 })]);
    await standby?.stop().catch(() => {});
    standby = undefined;
    await own?.close();
    own = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    own = await startPostgres({ maxConnections: 40 });
    const primaryUrl = own.url;
    const rPort = await freeLowPort();
    const started = await startStandby(primaryUrl, R, rPort);
    standby = started;
    const replicaUrl = started.url("postgres");
    primary = postgres(primaryUrl, { max: 1, onnotice: () => {} });
    replica = postgres(replicaUrl, { max: 1, onnotice: () => {} });
    const p = primary;
    const r = replica;
    const caughtUp = async () => {
      const [row] = await p<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
      for (;;) {
        const [done] = await r<{ ok: boolean }[]>`select pg_last_wal_replay_lsn() >= ${row!.lsn}::pg_lsn as ok`;
        if (done!.ok) return;
        await Bun.sleep(20);
      }
    };
    return {
      primaryUrl,
      replicaUrl,
      primary: p,
      replica: r,
      pauseReplay: async () => void (await r`select pg_wal_replay_pause()`),
      resumeReplay: async () => void (await r`select pg_wal_replay_resume()`),
      caughtUp,
      async stopReplica() {
        // The admin connection breaks with it; postgres.js reconnects on its next query.
        await standby?.stop();
        [stopped, standby] = [standby, undefined];
      },
      async restartReplica() {
        await stopped!.restart();
        [standby, stopped] = [stopped, undefined];
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
