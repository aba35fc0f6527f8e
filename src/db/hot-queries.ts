import { fillPlaceholders, sql } from "drizzle-orm";
import { queryRows, type Db } from "./client";
import { statements, type Queries, type Representative, type Statement, type StatementKey } from "./queries";

// Views of the table of statements (queries.ts) for the tools that need the SQL text: the SQL is
// read from the very statements createQueries() built (getQuery()), never written again.

export type { Representative };

export interface HotQuery {
  name: string;
  endpoint: string;
  sql: string;
  params: unknown[];
  allowScan?: string;
}

type WithQuery = { getQuery(): { sql: string; params: unknown[] } };
const queryOf = (q: unknown) => (q as WithQuery).getQuery();
const entries = () => Object.entries(statements) as [StatementKey, Statement][];

/** One statement's SQL text and its bind parameters filled from `values`. */
export function boundQuery(queries: Queries, key: StatementKey, values: Record<string, unknown>): { sql: string; params: unknown[] } {
  const q = queryOf(queries[key]);
  return { sql: q.sql, params: fillPlaceholders(q.params, values) };
}

/** SQL text → statement name, for metric labels (the driver only ever sees the text). */
export function statementNames(queries: Queries): Map<string, string> {
  return new Map(entries().map(([key, s]) => [queryOf(queries[key]).sql, s.name]));
}

/** SQL texts of the point reads, for Database.setPointStatements. */
export function pointReads(queries: Queries): string[] {
  return entries()
    .filter(([, s]) => s.point)
    .map(([key]) => queryOf(queries[key]).sql);
}

/** Every hot query with its SQL and representative parameters, ready to EXPLAIN. */
export function hotQueries(queries: Queries, r: Representative): HotQuery[] {
  return entries().map(([key, s]) => ({ name: s.name, endpoint: s.endpoint, ...boundQuery(queries, key, s.values(r)), allowScan: s.allowScan }));
}

/** Representative values from the data; null on an empty database (nothing to plan against). */
export async function representative(db: Db): Promise<Representative | null> {
  const [top] = await queryRows<{ user_id: number; n: number }>(
    db,
    sql`select user_id, count(*)::int as n from documents group by user_id order by 2 desc, 1 limit 1`,
  );
  if (!top) return null;
  const [mid] = await queryRows<{ id: number; created_at: string | Date }>(
    db,
    sql`select id, created_at from documents where user_id = ${top.user_id}
        order by created_at desc, id desc offset ${Math.floor(top.n / 2)} limit 1`,
  );
  const [flag] = await queryRows<{ key: string }>(db, sql`select key from feature_flags order by key limit 1`);
  return {
    userId: top.user_id,
    cursorAt: new Date(mid!.created_at).toISOString(),
    cursorId: mid!.id,
    docId: mid!.id,
    flagKey: flag?.key ?? "new-editor",
  };
}
