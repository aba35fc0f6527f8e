import { and, asc, count, desc, eq, max, sql } from "drizzle-orm";
import type { Db } from "./client";
import { documents, featureFlags, users } from "./schema";

// The hot read queries, built once per database as named prepared statements: Postgres parses and
// plans each once per connection, and drizzle does not rebuild the SQL per request. Each selects
// only the columns its endpoint returns. `bun run explain` EXPLAINs exactly these.
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

/**
 * GET /stats: whole-table counts in one statement (the right join keeps one row on an empty
 * table). Deliberately not index-driven: it is why the answer is cached. Plain SQL, no params.
 */
export const globalStatsSql = `
      select d.status, d.n::int as n,
             (select count(*) from users)::int as users,
             (select count(*) from documents where created_at > now() - interval '24 hours')::int as last24h
      from (select status, count(*) as n from documents group by status) d
      right join (select 1) one on true`;

export function createQueries(db: Db) {
  const perStatus = db
    .select({ status: documents.status, n: count().as("n"), last: max(documents.createdAt).as("last") })
    .from(documents)
    .where(eq(documents.userId, users.id))
    .groupBy(documents.status)
    .as("s");
  const listBase = (where: ReturnType<typeof and>) =>
    db.select(listColumns).from(documents).where(where).orderBy(...newestFirst).limit(p("limit"));
  const byUser = eq(documents.userId, p("userId"));
  const byStatus = eq(documents.status, p("status"));

  return {
    userById: db.select(publicUserColumns).from(users).where(eq(users.id, p("id"))).prepare("hp_user_by_id"),

    docsFirst: listBase(and(byUser)).prepare("hp_docs_first"),
    docsAfter: listBase(and(byUser, afterCursor)).prepare("hp_docs_after"),
    docsFirstByStatus: listBase(and(byUser, byStatus)).prepare("hp_docs_first_status"),
    docsAfterByStatus: listBase(and(byUser, byStatus, afterCursor)).prepare("hp_docs_after_status"),

    // The document and its author in one round trip (a join on two primary keys), not 1 + 1.
    docWithAuthor: db
      .select(docWithAuthorColumns)
      .from(documents)
      .innerJoin(users, eq(users.id, documents.userId))
      .where(eq(documents.id, p("id")))
      .prepare("hp_doc_with_author"),

    // One query for existence + counts by status + last activity. The LATERAL groups one user's
    // rows by status in index order: an Index Only Scan of documents_user_status_created_idx
    // with no Sort (a plain LEFT JOIN … GROUP BY users.id, status sorts every row of the user).
    userStats: db
      .select({ userId: users.id, status: perStatus.status, n: perStatus.n, last: perStatus.last })
      .from(users)
      .leftJoinLateral(perStatus, sql`true`)
      .where(eq(users.id, p("userId")))
      .prepare("hp_user_stats"),

    flagsAll: db.select(flagColumns).from(featureFlags).orderBy(asc(featureFlags.key)).prepare("hp_flags_all"),
    flagByKey: db.select(flagColumns).from(featureFlags).where(eq(featureFlags.key, p("key"))).prepare("hp_flag_by_key"),
  };
}

export type Queries = ReturnType<typeof createQueries>;
