import type postgres from "postgres";

// The naive fixture's data access: SELECT * and row-by-row mapping to the API's JSON shapes
// (same keys, same order as src/db/queries.ts), OFFSET pages, counting in JavaScript.

type Row = Record<string, any>;
type Sql = postgres.Sql;
const STATUSES = ["draft", "published", "archived"] as const;

const userJson = (r: Row) => ({ id: r.id, email: r.email, name: r.name, bio: r.bio, createdAt: r.created_at, updatedAt: r.updated_at });
const documentJson = (r: Row) => ({
  id: r.id,
  userId: r.user_id,
  title: r.title,
  body: r.body,
  status: r.status,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const listItemJson = (r: Row) => ({ id: r.id, title: r.title, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at });

/** Opaque to clients like the real cursor, but it only carries an offset. */
export const encodeOffset = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64url");
export function decodeOffset(raw: string | undefined): number | null {
  if (raw === undefined) return 0;
  const m = /^offset:(\d{1,9})$/.exec(Buffer.from(raw, "base64url").toString("utf8"));
  return m ? Number(m[1]) : null;
}

export async function user(sql: Sql, id: number) {
  const [row] = await sql`select * from users where id = ${id}`;
  return row ? userJson(row) : null;
}

export async function documentsPage(sql: Sql, userId: number, limit: number, offset: number) {
  const rows = await sql`select * from documents where user_id = ${userId}
                         order by created_at desc, id desc limit ${limit + 1} offset ${offset}`;
  const items = rows.slice(0, limit).map(listItemJson);
  return { items, nextCursor: rows.length > limit ? encodeOffset(offset + limit) : null };
}

export async function documentWithAuthor(sql: Sql, id: number) {
  const [doc] = await sql`select * from documents where id = ${id}`;
  if (!doc) return null;
  const [author] = await sql`select * from users where id = ${doc.user_id}`;
  return { ...documentJson(doc), author: { id: author!.id, name: author!.name } };
}

export async function userStats(sql: Sql, id: number) {
  if (!(await user(sql, id))) return null;
  const docs = await sql`select * from documents where user_id = ${id}`;
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  let last: Date | null = null;
  for (const d of docs) {
    byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
    if (!last || d.created_at > last) last = d.created_at;
  }
  return { userId: id, documents: { total: docs.length, byStatus }, lastActivityAt: last };
}

export async function globalStats(sql: Sql) {
  const [u] = await sql`select count(*)::int as n from users`;
  const groups = await sql`select status, count(*)::int as n from documents group by status`;
  const [recent] = await sql`select count(*)::int as n from documents where created_at > now() - interval '24 hours'`;
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const g of groups) byStatus[g.status] = g.n;
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return { users: u!.n, documents: { total, byStatus, last24h: recent!.n }, computedAt: new Date().toISOString() };
}

export async function insertUser(sql: Sql, email: string, name: string, bio: string | null) {
  const rows = await sql`insert into users (email, name, bio) values (${email}, ${name}, ${bio})
                         on conflict (email) do nothing returning *`;
  return rows[0] ? userJson(rows[0]) : null;
}

export async function renameUser(sql: Sql, id: number, name: string) {
  const [row] = await sql`update users set name = ${name}, updated_at = now() where id = ${id} returning *`;
  return row ? userJson(row) : null;
}

export async function insertDocument(sql: Sql, userId: number, title: string, body: string, status: string) {
  try {
    const [row] = await sql`insert into documents (user_id, title, body, status)
                            values (${userId}, ${title}, ${body}, ${status}) returning *`;
    return documentJson(row!);
  } catch (err) {
    if ((err as { code?: string }).code === "23503") return null;
    throw err;
  }
}

export async function retitleDocument(sql: Sql, id: number, title: string) {
  const [row] = await sql`update documents set title = ${title}, updated_at = now() where id = ${id} returning *`;
  return row ? documentJson(row) : null;
}
