import postgres from "postgres";
import { decodeCursor, encodeCursor } from "../../src/lib/cursor";

// LIMIT SERVER 2: the least work a keyset list page can be — plain Bun.serve + postgres.js
// (prepared statements, the same pool size as the service) running the same indexed keyset
// query with the same columns, the same cursor and the same JSON shape. Nothing else.

const sql = postgres(process.env.DATABASE_URL!, { max: Number(process.env.DB_POOL_MAX ?? 4), onnotice: () => {} });
const json = { "content-type": "application/json; charset=UTF-8" };

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3102),
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const m = /^\/users\/(\d+)\/documents$/.exec(url.pathname);
    if (!m) return new Response("not found", { status: 404 });
    const userId = Number(m[1]);
    const limit = Number(url.searchParams.get("limit") ?? 20);
    const raw = url.searchParams.get("cursor");
    const cursor = raw ? decodeCursor(raw) : undefined;
    const rows = cursor
      ? await sql`select id, title, status, created_at as "createdAt", updated_at as "updatedAt" from documents
                  where user_id = ${userId} and (created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::int)
                  order by created_at desc, id desc limit ${limit + 1}`
      : await sql`select id, title, status, created_at as "createdAt", updated_at as "updatedAt" from documents
                  where user_id = ${userId} order by created_at desc, id desc limit ${limit + 1}`;
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor(last as { createdAt: Date; id: number }) : null;
    return new Response(JSON.stringify({ items, nextCursor }), { headers: json });
  },
});

process.on("SIGTERM", async () => {
  server.stop(true);
  await sql.end({ timeout: 1 });
  process.exit(0);
});
