import { fillPlaceholders, sql } from "drizzle-orm";
import { queryRows, type Db } from "./client";
import { globalStatsSql, type Queries } from "./queries";

// The catalogue of hot queries `bun run explain` checks. The SQL is not written here: it is read
// from the very prepared statements createQueries() builds (getQuery()), and the mapped type
// below makes a new prepared statement without a catalogue entry a compile error. The global
// /stats aggregate is a plain statement (globalStatsSql in queries.ts), shared with its route.

/** Parameter values taken from the data, so the planner sees a realistic (worst-case) user. */
export interface Representative {
  /** The user with the most documents: the longest lists and the biggest per-user counts. */
  userId: number;
  /** A cursor from the middle of that user's newest-first list. */
  cursorAt: string;
  cursorId: number;
  docId: number;
  flagKey: string;
}

export interface HotQueryEntry {
  /** The prepared statement's name (`.prepare(name)` in queries.ts). */
  name: string;
  endpoint: string;
  values: (r: Representative) => Record<string, unknown>;
  /** Why a full scan is acceptable here; absent = scans of large tables fail the check. */
  allowScan?: string;
  /**
   * A primary-key read of a small table (users, feature_flags): may use the connections
   * DB_POOL_RESERVED keeps, which nothing touching documents can take (see pool-queue.ts).
   */
  point?: true;
}

const PAGE = 21; // default limit 20 + the one-row look-ahead

export const preparedCatalogue: { [K in keyof Queries]: HotQueryEntry } = {
  userById: { name: "hp_user_by_id", endpoint: "GET /users/:id", values: (r) => ({ id: r.userId }), point: true },
  docsFirst: { name: "hp_docs_first", endpoint: "GET /users/:id/documents", values: (r) => ({ userId: r.userId, limit: PAGE }) },
  docsAfter: {
    name: "hp_docs_after",
    endpoint: "GET /users/:id/documents?cursor=",
    values: (r) => ({ userId: r.userId, limit: PAGE, cursorAt: r.cursorAt, cursorId: r.cursorId }),
  },
  docsFirstByStatus: {
    name: "hp_docs_first_status",
    endpoint: "GET /users/:id/documents?status=",
    values: (r) => ({ userId: r.userId, limit: PAGE, status: "published" }),
  },
  docsAfterByStatus: {
    name: "hp_docs_after_status",
    endpoint: "GET /users/:id/documents?status=&cursor=",
    values: (r) => ({ userId: r.userId, limit: PAGE, status: "published", cursorAt: r.cursorAt, cursorId: r.cursorId }),
  },
  docWithAuthor: { name: "hp_doc_with_author", endpoint: "GET /documents/:id", values: (r) => ({ id: r.docId }) },
  userStats: { name: "hp_user_stats", endpoint: "GET /users/:id/stats", values: (r) => ({ userId: r.userId }) },
  flagsAll: { name: "hp_flags_all", endpoint: "GET /flags", values: () => ({}), point: true },
  flagByKey: { name: "hp_flag_by_key", endpoint: "GET /flags/:key", values: (r) => ({ key: r.flagKey }), point: true },
};

export interface HotQuery {
  name: string;
  endpoint: string;
  sql: string;
  params: unknown[];
  allowScan?: string;
}

type WithQuery = { getQuery(): { sql: string; params: unknown[] } };
const queryOf = (q: unknown) => (q as WithQuery).getQuery();

/** SQL text → prepared statement name, for metric labels (the driver only ever sees the text). */
export function statementNames(queries: Queries): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, entry] of Object.entries(preparedCatalogue)) out.set(queryOf(queries[key as keyof Queries]).sql, entry.name);
  out.set(globalStatsSql, "hp_global_stats");
  return out;
}

/** SQL texts of the point reads, for Database.setPointStatements. */
export function pointReads(queries: Queries): string[] {
  return Object.entries(preparedCatalogue)
    .filter(([, entry]) => entry.point)
    .map(([key]) => queryOf(queries[key as keyof Queries]).sql);
}

/** Every hot query with its SQL and representative parameters, ready to EXPLAIN. */
export function hotQueries(queries: Queries, r: Representative): HotQuery[] {
  const list: HotQuery[] = Object.entries(preparedCatalogue).map(([key, entry]) => {
    const q = queryOf(queries[key as keyof Queries]);
    return { name: entry.name, endpoint: entry.endpoint, sql: q.sql, params: fillPlaceholders(q.params, entry.values(r)) };
  });
  list.push({
    name: "hp_global_stats",
    endpoint: "GET /stats",
    sql: globalStatsSql,
    params: [],
    allowScan: "whole-table counts by design; the answer is cached for CACHE_TTL_GLOBAL_STATS_S, not computed per request",
  });
  return list;
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
