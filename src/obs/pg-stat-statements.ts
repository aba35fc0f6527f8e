import { drizzle } from "drizzle-orm/postgres-js";
import type { Sql } from "postgres";
import { statementNames } from "../db/hot-queries";
import { createQueries } from "../db/queries";
import * as schema from "../db/schema";
import { fingerprinter } from "./normalize";

// The database's own view of where time goes, for `bun run top --database`: pg_stat_statements
// counts every statement the server ran (all instances of the service, migrations, psql sessions),
// where the service's metrics only see its own process. Rows are matched to our statement names
// (the table in db/queries.ts) by normalized text, the same fingerprint the metrics and logs use.

export interface StatementRow {
  /** Our statement's name (db/queries.ts) when the text matches one, else "select documents"-style. */
  name: string;
  named: boolean;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  query: string;
}

export type DatabaseView =
  | { available: true; since: string | null; statements: StatementRow[] }
  | { available: false; reason: string; enable: string[] };

export const ENABLE_STEPS = [
  "postgresql.conf (or `-c` / the managed service's parameter group): shared_preload_libraries = 'pg_stat_statements', then restart Postgres",
  "in the service's database: CREATE EXTENSION pg_stat_statements;",
];

/** The texts of the service's table of statements, mapped to their names. */
export function serviceStatementNames(sql: Sql): ReadonlyMap<string, string> {
  // Drizzle only builds the statements' SQL here; nothing is sent. (It sets its own date parsers
  // on the client, hence the Date-or-string handling of stats_reset below.)
  return statementNames(createQueries(drizzle({ client: sql, schema })));
}

/** Why the view cannot be read, from the error of reading it. */
async function diagnose(sql: Sql, err: unknown): Promise<DatabaseView> {
  const code = (err as { code?: string }).code;
  // 55000: the view exists but the library was not preloaded ("must be loaded via shared_preload_libraries").
  if (code === "55000") {
    return { available: false, reason: "pg_stat_statements is not in shared_preload_libraries (the view exists but collects nothing)", enable: ENABLE_STEPS };
  }
  if (code !== "42P01") throw err; // anything but "no such view" is a real error
  const [ext] = await sql<{ available: boolean }[]>`
    select exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available`;
  return ext!.available
    ? { available: false, reason: "CREATE EXTENSION pg_stat_statements has not been run in this database", enable: ENABLE_STEPS }
    : {
        available: false,
        reason: "the pg_stat_statements extension is not installed on this server (Debian/Ubuntu: the postgresql-contrib package)",
        enable: ENABLE_STEPS,
      };
}

/** The top `limit` statements of the current database by total execution time, or why there are none. */
export async function databaseView(sql: Sql, limit = 15): Promise<DatabaseView> {
  // Read first, diagnose only on failure: top's own probing never shows up in the view it reads.
  let rows: { query: string; calls: string; total: number; mean: number; rows: string }[];
  try {
    rows = await sql<{ query: string; calls: string; total: number; mean: number; rows: string }[]>`
      select query, calls, total_exec_time as total, mean_exec_time as mean, rows
      from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
        and query not ilike '%pg_stat_statements%'
      order by total_exec_time desc
      limit ${limit}`;
  } catch (err) {
    return diagnose(sql, err);
  }
  const [info] = await sql<{ since: Date | null }[]>`select stats_reset as since from pg_stat_statements_info`.catch(() => [{ since: null }]);
  const names = serviceStatementNames(sql);
  const named = new Set(names.values());
  const fingerprint = fingerprinter(names);
  return {
    available: true,
    since: info?.since ? new Date(info.since as Date | string).toISOString() : null,
    statements: rows.map((r) => {
      const name = fingerprint(r.query).label;
      return {
        name,
        named: named.has(name),
        calls: Number(r.calls),
        totalMs: Number(r.total),
        meanMs: Number(r.mean),
        rows: Number(r.rows),
        query: r.query,
      };
    }),
  };
}
