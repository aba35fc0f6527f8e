import { and, asc, count, desc, eq, max, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { documents, featureFlags, users, type DocumentStatus } from "./schema";

// The table of hot statements: each is named once, here, and everything else derives from this
// table — the routes run them (through src/repositories/), `bun run explain` EXPLAINs them and the
// metrics, logs, traces and `bun run top` label them by name (hot-queries.ts), and the benchmark
// plans the list statements from it (bench/explain.ts). createQueries() builds each once per
// database, so drizzle does not rebuild the SQL per request. Each selects only the columns its
// endpoint returns.
//
// The name is ours, not Postgres': drizzle's postgres-js driver turns `.prepare(name)` into
// postgres.js' `prepare: true` and drops the name. postgres.js then prepares the statement on each
// connection the first time it runs there, under a name of its own, keyed by its SQL text
// (README "Prepared statements"; test/prepared.test.ts shows what reaches Postgres).
const p = (name: string) => sql.placeholder(name);

export const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  bio: users.bio,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

/** What anyone may read about a user: the profile without the email (that is GET /users/me's). */
export const publicUserColumns = {
  id: users.id,
  name: users.name,
  bio: users.bio,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

export const documentColumns = {
  id: documents.id,
  userId: documents.userId,
  title: documents.title,
  body: documents.body,
  status: documents.status,
  createdAt: documents.createdAt,
  updatedAt: documents.updatedAt,
};

/** GET /documents/:id: the document and its author's public name. */
export const docWithAuthorColumns = { ...documentColumns, author: { id: users.id, name: users.name } };

/** List pages carry no body: up to 100 KB each would dwarf the rest of the row. */
export const listColumns = {
  id: documents.id,
  title: documents.title,
  status: documents.status,
  createdAt: documents.createdAt,
  updatedAt: documents.updatedAt,
};

export const flagColumns = {
  key: featureFlags.key,
  enabled: featureFlags.enabled,
  value: featureFlags.value,
  description: featureFlags.description,
  updatedAt: featureFlags.updatedAt,
};

// Keyset predicate: row comparison matches the (created_at DESC, id DESC) index order exactly.
const afterCursor = sql`(${documents.createdAt}, ${documents.id}) < (${p("cursorAt")}::timestamptz, ${p("cursorId")}::int)`;
const newestFirst = [desc(documents.createdAt), desc(documents.id)] as const;

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

/** What a drizzle query builder offers that the table needs. */
interface Preparable {
  prepare(name: string): unknown;
  getSQL(): SQL;
}

export interface Statement<B extends Preparable = Preparable> {
  /** The statement's name: metric and log label, span name, `explain` and `top` row. */
  name: string;
  endpoint: string;
  build(db: Db): B;
  /** Bind values for `bun run explain`, from the data. */
  values(r: Representative): Record<string, unknown>;
  /** Why a full scan is acceptable here; absent = scans of large tables fail the check. */
  allowScan?: string;
  /**
   * A primary-key read of a small table (users, feature_flags): may use the connections
   * DB_POOL_RESERVED keeps, which nothing touching documents can take (see pool-queue.ts).
   */
  point?: true;
}

const statement = <B extends Preparable>(s: Statement<B>) => s;

const PAGE = 21; // default limit 20 + the one-row look-ahead

const listBase = (db: Db, where: SQL | undefined) =>
  db.select(listColumns).from(documents).where(where).orderBy(...newestFirst).limit(p("limit"));
const byUser = eq(documents.userId, p("userId"));
const byStatus = eq(documents.status, p("status"));

export const statements = {
  userById: statement({
    name: "hp_user_by_id",
    endpoint: "GET /users/:id",
    point: true,
    values: (r) => ({ id: r.userId }),
    build: (db) => db.select(publicUserColumns).from(users).where(eq(users.id, p("id"))),
  }),

  docsFirst: statement({
    name: "hp_docs_first",
    endpoint: "GET /users/:id/documents",
    values: (r) => ({ userId: r.userId, limit: PAGE }),
    build: (db) => listBase(db, and(byUser)),
  }),
  docsAfter: statement({
    name: "hp_docs_after",
    endpoint: "GET /users/:id/documents?cursor=",
    values: (r) => ({ userId: r.userId, limit: PAGE, cursorAt: r.cursorAt, cursorId: r.cursorId }),
    build: (db) => listBase(db, and(byUser, afterCursor)),
  }),
  docsFirstByStatus: statement({
    name: "hp_docs_first_status",
    endpoint: "GET /users/:id/documents?status=",
    values: (r) => ({ userId: r.userId, limit: PAGE, status: "published" }),
    build: (db) => listBase(db, and(byUser, byStatus)),
  }),
  docsAfterByStatus: statement({
    name: "hp_docs_after_status",
    endpoint: "GET /users/:id/documents?status=&cursor=",
    values: (r) => ({ userId: r.userId, limit: PAGE, status: "published", cursorAt: r.cursorAt, cursorId: r.cursorId }),
    build: (db) => listBase(db, and(byUser, byStatus, afterCursor)),
  }),

  // The document and its author in one round trip (a join on two primary keys), not 1 + 1.
  docWithAuthor: statement({
    name: "hp_doc_with_author",
    endpoint: "GET /documents/:id",
    values: (r) => ({ id: r.docId }),
    build: (db) =>
      db.select(docWithAuthorColumns).from(documents).innerJoin(users, eq(users.id, documents.userId)).where(eq(documents.id, p("id"))),
  }),

  // One query for existence + counts by status + last activity. The LATERAL groups one user's
  // rows by status in index order: an Index Only Scan of documents_user_status_created_idx
  // with no Sort (a plain LEFT JOIN … GROUP BY users.id, status sorts every row of the user).
  userStats: statement({
    name: "hp_user_stats",
    endpoint: "GET /users/:id/stats",
    values: (r) => ({ userId: r.userId }),
    build: (db) => {
      const perStatus = db
        .select({ status: documents.status, n: count().as("n"), last: max(documents.createdAt).as("last") })
        .from(documents)
        .where(eq(documents.userId, users.id))
        .groupBy(documents.status)
        .as("s");
      return db
        .select({ userId: users.id, status: perStatus.status, n: perStatus.n, last: perStatus.last })
        .from(users)
        .leftJoinLateral(perStatus, sql`true`)
        .where(eq(users.id, p("userId")));
    },
  }),

  flagsAll: statement({
    name: "hp_flags_all",
    endpoint: "GET /flags",
    point: true,
    values: () => ({}),
    build: (db) => db.select(flagColumns).from(featureFlags).orderBy(asc(featureFlags.key)),
  }),
  flagByKey: statement({
    name: "hp_flag_by_key",
    endpoint: "GET /flags/:key",
    point: true,
    values: (r) => ({ key: r.flagKey }),
    build: (db) => db.select(flagColumns).from(featureFlags).where(eq(featureFlags.key, p("key"))),
  }),

  // Whole-table counts in one statement (the right join keeps one row on an empty table).
  // Deliberately not index-driven: it is why the answer is cached.
  globalStats: statement({
    name: "hp_global_stats",
    endpoint: "GET /stats",
    allowScan: "whole-table counts by design; the answer is cached for CACHE_TTL_GLOBAL_STATS_S, not computed per request",
    values: () => ({}),
    build: (db) =>
      db
        .select({
          status: sql<DocumentStatus | null>`d.status`,
          n: sql<number>`d.n::int`,
          users: sql<number>`(select count(*) from users)::int`,
          last24h: sql<number>`(select count(*) from documents where created_at > now() - interval '24 hours')::int`,
        })
        .from(sql`(select status, count(*) as n from documents group by status) d right join (select 1) one on true`),
  }),
};

type Table = typeof statements;
export type StatementKey = keyof Table;

/** The table's statements built for one database (the primary's, or a replica's). */
export type Queries = { [K in StatementKey]: ReturnType<ReturnType<Table[K]["build"]>["prepare"]> };

export function createQueries(db: Db): Queries {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(statements) as [StatementKey, Statement][]) out[key] = s.build(db).prepare(s.name);
  return out as Queries;
}
