import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { ApiError } from "../lib/errors";
import type { Logger } from "../lib/log";
import { queryRows, type Database, type Db } from "./client";
import type { Queries } from "./queries";

// Read routing over streaming replicas (README "Read replicas"). The rule: data a replica
// returns may be older than the primary's, so it is only used where that cannot be seen.
// - Uncached reads (list pages, GET /users/me) go to a replica — unless the request carries the
//   Hotpath-LSN a write answered with: then only to a replica known to have replayed that far,
//   else to the primary (read-your-writes, compared by WAL position, not by a time window).
// - Cache fills never store replica data that may predate a write: point fills (profiles, flags,
//   documents) read the primary; heavy fills (stats) read a replica only if it has replayed past
//   the primary's WAL position taken when the fill started, which is after any write whose
//   eviction the fill follows (fresh()).
// A replica's replayed position is polled every DB_REPLICA_CHECK_MS; replay only moves forward, so
// the known value is a lower bound and comparing against it is safe. A replica that fails a poll
// or a read is down: its reads go to the primary until a poll answers again.

/** The header a write answers with (the primary's WAL position after it) and a reader may echo. */
export const LSN_HEADER = "Hotpath-LSN";

/** "16/B374D848" → a comparable number; undefined when the text is not an LSN. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text ?? "");
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
}

/** Where a read runs: the primary's or a replica's drizzle and prepared statements. */
export interface ReadTarget {
  db: Db;
  queries: Queries;
}

export interface Replica extends ReadTarget {
  /** host:port, for readiness and logs (never the credentials). */
  name: string;
  database: Database;
  up: boolean;
  /** Last polled replay position (a lower bound of the real one). */
  replayed: bigint;
}

/** A server that is not in recovery (not a standby) is as fresh as the primary. */
const NOT_A_STANDBY = (1n << 64n) - 1n;

export const replicaName = (url: string) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}`;
};

export function createReadRouter(opts: { primary: ReadTarget; replicas: Replica[]; checkMs: number; log: Logger }) {
  const { primary, replicas, log } = opts;
  let turn = 0;

  const down = (r: Replica, err: unknown) => {
    if (r.up) log.warn("replica down: its reads go to the primary", { replica: r.name, err: (err as Error)?.message });
    r.up = false;
  };

  const poll = async (r: Replica) => {
    try {
      const [row] = await r.database.probe!<{ standby: boolean; lsn: string | null }[]>`
        select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as lsn`;
      const lsn = row!.standby ? (parseLsn(row!.lsn) ?? 0n) : NOT_A_STANDBY;
      if (lsn > r.replayed) r.replayed = lsn;
      if (!r.up) log.info("replica up", { replica: r.name });
      r.up = true;
    } catch (err) {
      down(r, err);
    }
  };
  let polling: Promise<unknown> | undefined;
  const pollAll = () => (polling ??= Promise.all(replicas.map(poll)).finally(() => (polling = undefined)));
  const timer = replicas.length ? setInterval(pollAll, opts.checkMs) : undefined;
  timer?.unref?.();

  /** An up replica that has replayed at least `min` (round robin), or undefined. */
  const pick = (min: bigint): Replica | undefined => {
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[(turn + i) % replicas.length]!;
      if (r.up && r.replayed >= min) {
        turn = (turn + i + 1) % replicas.length;
        return r;
      }
    }
    return undefined;
  };

  /** Runs on the replica; any failure but our own 503/504 (pool, timeout) marks it down and retries on the primary. */
  const on = async <T>(r: Replica | undefined, fn: (t: ReadTarget) => Promise<T>): Promise<T> => {
    if (!r) return fn(primary);
    try {
      return await fn(r);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      down(r, err);
      return fn(primary);
    }
  };

  return {
    /** The primary's statements: writes, and reads that must not see a replica's lag. */
    primary,
    replicas,
    /** First poll of every replica (startup waits for it, so reads use them from the start). */
    ready: () => pollAll(),
    /** An uncached read: a replica, unless the request's Hotpath-LSN is past what it has replayed. */
    read<T>(c: Context, fn: (t: ReadTarget) => Promise<T>): Promise<T> {
      if (replicas.length === 0) return fn(primary);
      const header = c.req.header(LSN_HEADER);
      const min = header === undefined ? 0n : parseLsn(header);
      if (min === undefined) {
        throw new ApiError(400, "bad_request", `${LSN_HEADER} must be a WAL position as a write returned it (e.g. 0/16B3748)`);
      }
      return on(pick(min), fn);
    },
    /**
     * A cache fill: a replica only if it has replayed past the primary's WAL position now (one
     * small statement on the primary), so it holds every write whose eviction this fill follows.
     */
    async fresh<T>(fn: (t: ReadTarget) => Promise<T>): Promise<T> {
      if (replicas.length === 0) return fn(primary);
      const [row] = await queryRows<{ lsn: string }>(primary.db, sql`select pg_current_wal_lsn()::text as lsn`);
      return on(pick(parseLsn(row!.lsn)!), fn);
    },
    /** The primary's WAL position now (after a write): what the write's response carries. */
    async primaryLsn(): Promise<string> {
      const [row] = await queryRows<{ lsn: string }>(primary.db, sql`select pg_current_wal_lsn()::text as lsn`);
      return row!.lsn;
    },
    /** Readiness: each replica "ok" or "down" (down never fails readiness: reads use the primary). */
    status(): Record<string, string> {
      return Object.fromEntries(replicas.map((r) => [`replica ${r.name}`, r.up ? "ok" : "down"]));
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await polling?.catch(() => {});
      await Promise.allSettled(replicas.map((r) => r.database.close()));
    },
  };
}

export type ReadRouter = ReturnType<typeof createReadRouter>;
