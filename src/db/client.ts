import { mkdirSync } from "node:fs";
import type { SQL } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Env } from "../env";
import type { Telemetry } from "../context/telemetry";
import { instrumentPglite, instrumentPostgres, type Lane } from "./instrument";
import { PoolQueue } from "./pool-queue";
import * as schema from "./schema";

export type Db = ReturnType<typeof drizzlePg<typeof schema>>;
/** The database handle inside db.transaction(): what a conditional write runs on. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];


export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** Connection string (postgres only), for side connections such as the migration lock. */
  url?: string;
  /** The queue in front of the connections: slots in use, waiters, the wait histogram hook. */
  pool: PoolQueue;
  poolMax: number;
  /** Declares the point statements (may use the reserved connections), by SQL text. */
  setPointStatements(texts: Iterable<string>): void;
  /**
   * Postgres round trip on a connection of its own (never queued behind user statements);
   * throws when Postgres is unreachable.
   */
  ping(): Promise<void>;
  /** The probe's own connection (postgres only): replica replay positions are read on it. */
  probe?: postgres.Sql;
  close(): Promise<void>;
}

export type DbEnv = Pick<
  Env,
  | "DATABASE_URL"
  | "PGLITE_DIR"
  | "DB_POOL_MAX"
  | "DB_IDLE_TIMEOUT_S"
  | "DB_MAX_LIFETIME_S"
  | "DB_CONNECT_TIMEOUT_S"
  | "DB_STATEMENT_TIMEOUT_MS"
  | "DB_PREPARE"
  | "DB_ACQUIRE_TIMEOUT_MS"
  | "DB_POOL_RESERVED"
  | "DB_PIPELINE_DEPTH"
  | "SHUTDOWN_TIMEOUT_S"
>;

/** The readiness probe's own statement limit: a Postgres that answers slower than this is not "up". */
const PROBE_STATEMENT_TIMEOUT_MS = 1000;

/**
 * Seconds postgres.js waits before reconnecting after a failed attempt: its own schedule (0.5–1 ×
 * 3^retries / 100, src/index.js) capped at 2 s instead of 20 s, so a Postgres back from an outage
 * is used within 2 s rather than up to 20 s later (a statement arriving meanwhile waits out the
 * backoff, past most request timeouts). Attempts are made only for statements that arrive, so an
 * idle service adds no load to a Postgres that is down.
 */
const RECONNECT_BACKOFF_MAX_S = 2;
const reconnectBackoff = (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, RECONNECT_BACKOFF_MAX_S);

/** `tel`: where statements are reported; undefined (INSTRUMENTATION=off): nothing is timed. */
export async function createDatabase(env: DbEnv, tel: Telemetry | undefined): Promise<Database> {
  const point = new Set<string>();
  const setPointStatements = (texts: Iterable<string>) => {
    for (const t of texts) point.add(t);
  };
  if (env.DATABASE_URL) return connectPostgres(env.DATABASE_URL, env, tel, { point, setPointStatements }, "hotpath");
  // Embedded default: PGlite in-process (one connection by nature). Loaded lazily so a
  // production process never pays for the WASM module.
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle: drizzleLite } = await import("drizzle-orm/pglite");
  const dir = env.PGLITE_DIR;
  if (!dir.startsWith("memory://")) mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir);
  // One connection, no pipelining: one slot, no point lane (every statement takes that slot).
  const pool = new PoolQueue({ generalSlots: 1, pointSlots: 0, acquireTimeoutMs: env.DB_ACQUIRE_TIMEOUT_MS });
  const db = drizzleLite({ client: instrumentPglite(pg, tel, { pool, point }), schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    pool,
    poolMax: 1,
    setPointStatements,
    // In-process: it cannot be unreachable, only closed or busy. A query would wait behind the
    // statement or transaction holding its one connection, so readiness asks only whether it is open.
    ping: async () => {
      if (pg.closed) throw new Error("PGlite is closed");
    },
    close: () => pg.close(),
  };
}

/**
 * A postgres.js database behind its own pool queue (the primary, or one replica: each has its
 * own connections, lanes and probe). `point` is the set of point statement texts (shared).
 */
export function connectPostgres(
  url: string,
  env: DbEnv,
  tel: Telemetry | undefined,
  statements: { point: Set<string>; setPointStatements: (texts: Iterable<string>) => void },
  applicationName: string,
): Database {
  const { point, setPointStatements } = statements;
  // Two pools of connections, one per lane (pool-queue.ts): point statements never queue on a
  // connection a general statement is stuck on. DB_POOL_MAX is the total.
  const reserved = Math.min(env.DB_POOL_RESERVED, env.DB_POOL_MAX - 1);
  const general = env.DB_POOL_MAX - reserved;
  const pool = new PoolQueue({
    generalSlots: general * env.DB_PIPELINE_DEPTH,
    pointSlots: reserved * env.DB_PIPELINE_DEPTH,
    acquireTimeoutMs: env.DB_ACQUIRE_TIMEOUT_MS,
  });
  const connect = (max: number) =>
    postgres(url, {
      max,
      idle_timeout: env.DB_IDLE_TIMEOUT_S,
      max_lifetime: env.DB_MAX_LIFETIME_S,
      connect_timeout: env.DB_CONNECT_TIMEOUT_S,
      prepare: env.DB_PREPARE,
      backoff: reconnectBackoff,
      onnotice: () => {},
      // Server-side guard: a runaway query is cancelled by Postgres, not left holding a connection.
      connection: { statement_timeout: env.DB_STATEMENT_TIMEOUT_MS, application_name: applicationName },
      // Per connection, the depth the queue admits (postgres.js would pipeline 100); a runtime
      // option of postgres.js (src/index.js) missing from its types.
      ...({ max_pipeline: env.DB_PIPELINE_DEPTH } as object),
    });
  const raw = connect(general);
  const rawPoint = reserved > 0 ? connect(reserved) : undefined;
  // Readiness asks Postgres on this single connection of its own, outside the pool and its
  // queue: a saturated pool must read as "busy", not as "down" (see routes/health.ts).
  const probe = postgres(url, {
    max: 1,
    idle_timeout: env.DB_IDLE_TIMEOUT_S,
    connect_timeout: env.DB_CONNECT_TIMEOUT_S,
    prepare: false,
    backoff: reconnectBackoff,
    onnotice: () => {},
    connection: { statement_timeout: PROBE_STATEMENT_TIMEOUT_MS, application_name: `${applicationName}-probe` },
  });
  const lane: Lane = { pool, point, pointSql: rawPoint };
  const client = instrumentPostgres(raw, tel, lane);
  const db = drizzlePg({ client, schema });
  return {
    db,
    kind: "postgres",
    url,
    pool,
    poolMax: env.DB_POOL_MAX,
    setPointStatements,
    ping: async () => void (await probe`select 1`),
    probe,
    close: async () => {
      await Promise.all([
        raw.end({ timeout: env.SHUTDOWN_TIMEOUT_S }),
        rawPoint?.end({ timeout: env.SHUTDOWN_TIMEOUT_S }),
        probe.end({ timeout: 1 }),
      ]);
    },
  };
}

/** Raw SQL rows from either driver (postgres.js returns an array, PGlite `{ rows }`). */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const r = (await db.execute(query)) as unknown;
  return (Array.isArray(r) ? r : (r as { rows: T[] }).rows) as T[];
}
