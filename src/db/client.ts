import { mkdirSync } from "node:fs";
import { type SQL, sql as dsql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Env } from "../env";
import type { Telemetry } from "../obs/events";
import { instrumentPglite, instrumentPostgres, type PoolGauge } from "./instrument";
import * as schema from "./schema";

export type Db = ReturnType<typeof drizzlePg<typeof schema>>;

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** Connection string (postgres only), for side connections such as the migration lock. */
  url?: string;
  gauge: PoolGauge;
  poolMax: number;
  /** Postgres round trip; throws when unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

type DbEnv = Pick<
  Env,
  | "DATABASE_URL"
  | "PGLITE_DIR"
  | "DB_POOL_MAX"
  | "DB_IDLE_TIMEOUT_S"
  | "DB_MAX_LIFETIME_S"
  | "DB_CONNECT_TIMEOUT_S"
  | "DB_STATEMENT_TIMEOUT_MS"
  | "DB_PREPARE"
  | "SHUTDOWN_TIMEOUT_S"
>;

export async function createDatabase(env: DbEnv, tel: Telemetry): Promise<Database> {
  const gauge: PoolGauge = { inFlight: 0 };
  if (env.DATABASE_URL) {
    const raw = postgres(env.DATABASE_URL, {
      max: env.DB_POOL_MAX,
      idle_timeout: env.DB_IDLE_TIMEOUT_S,
      max_lifetime: env.DB_MAX_LIFETIME_S,
      connect_timeout: env.DB_CONNECT_TIMEOUT_S,
      prepare: env.DB_PREPARE,
      onnotice: () => {},
      // Server-side guard: a runaway query is cancelled by Postgres, not left holding a connection.
      connection: { statement_timeout: env.DB_STATEMENT_TIMEOUT_MS, application_name: "hotpath" },
    });
    const client = instrumentPostgres(raw, tel, gauge);
    const db = drizzlePg({ client, schema });
    return {
      db,
      kind: "postgres",
      url: env.DATABASE_URL,
      gauge,
      poolMax: env.DB_POOL_MAX,
      ping: async () => void (await db.execute(dsql`select 1`)),
      close: () => raw.end({ timeout: env.SHUTDOWN_TIMEOUT_S }),
    };
  }
  // Embedded default: PGlite in-process (one connection by nature). Loaded lazily so a
  // production process never pays for the WASM module.
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle: drizzleLite } = await import("drizzle-orm/pglite");
  const dir = env.PGLITE_DIR;
  if (!dir.startsWith("memory://")) mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir);
  const db = drizzleLite({ client: instrumentPglite(pg, tel, gauge), schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    gauge,
    poolMax: 1,
    ping: async () => void (await db.execute(dsql`select 1`)),
    close: () => pg.close(),
  };
}

/** Raw SQL rows from either driver (postgres.js returns an array, PGlite `{ rows }`). */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const r = (await db.execute(query)) as unknown;
  return (Array.isArray(r) ? r : (r as { rows: T[] }).rows) as T[];
}
