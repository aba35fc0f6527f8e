import { Hono } from "hono";
import postgres from "postgres";
import * as q from "./queries";

// THE "BEFORE" FIXTURE — deliberately naive, never import it from src/. Same endpoints and JSON
// shapes as the service, written the way the seed's "before" was:
//   - a new database connection per request (no pool), closed when the request ends;
//   - SELECT * everywhere (list pages read every document body, then drop it);
//   - GET /documents/:id: the document, then its author in a second query (1 + N, N = 1 here;
//     the list shape has no author, so the list has no N+1);
//   - OFFSET pagination (the cursor is an opaque offset; page 5 = OFFSET 80);
//   - no cache; and its database (hotpath_bench_naive) has no index on documents but the primary
//     key, so per-user reads and the 24 h count are sequential scans.
// Run: DATABASE_URL=... PORT=... bun run bench/naive/server.ts

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is required");

async function withConnection<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url!, { max: 1, prepare: false, onnotice: () => {}, connection: { application_name: "hotpath-naive" } });
  try {
    const result = await fn(sql);
    await sql.end();
    return result;
  } catch (err) {
    await sql.end({ timeout: 0 }); // a dead connection (e.g. its query was cancelled) closes now
    throw err;
  }
}

const idOf = (raw: string) => {
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 && n < 2 ** 31 ? n : null;
};
const notFound = (what: string) => ({ error: { code: "not_found", message: `${what} not found` } });
const bad = { error: { code: "validation_failed", message: "invalid request" } };

// Requests in progress, for the benchmark: a load generator that stops abandons its in-flight
// requests, and the next measurement must not start while their queries still run.
let inFlight = 0;
const app = new Hono()
  .get("/inflight", (c) => c.text(String(inFlight)))
  .use(async (_, next) => {
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  })
  .get("/healthz", (c) => c.json({ status: "ok" }))
  .get("/users/:id", async (c) => {
    const id = idOf(c.req.param("id"));
    if (!id) return c.json(bad, 400);
    const user = await withConnection((sql) => q.user(sql, id));
    return user ? c.json(user) : c.json(notFound("user"), 404);
  })
  .get("/users/:id/documents", async (c) => {
    const id = idOf(c.req.param("id"));
    const limit = Number(c.req.query("limit") ?? 20);
    const offset = q.decodeOffset(c.req.query("cursor"));
    if (!id || !Number.isInteger(limit) || limit < 1 || limit > 100 || offset === null) return c.json(bad, 400);
    const page = await withConnection(async (sql) => {
      if (!(await q.user(sql, id))) return null;
      return q.documentsPage(sql, id, limit, offset);
    });
    return page ? c.json(page) : c.json(notFound("user"), 404);
  })
  .get("/users/:id/stats", async (c) => {
    const id = idOf(c.req.param("id"));
    if (!id) return c.json(bad, 400);
    const stats = await withConnection((sql) => q.userStats(sql, id));
    return stats ? c.json(stats) : c.json(notFound("user"), 404);
  })
  .get("/stats", async (c) => c.json(await withConnection(q.globalStats)))
  .get("/documents/:id", async (c) => {
    const id = idOf(c.req.param("id"));
    if (!id) return c.json(bad, 400);
    const doc = await withConnection((sql) => q.documentWithAuthor(sql, id));
    return doc ? c.json(doc) : c.json(notFound("document"), 404);
  })
  .post("/users", async (c) => {
    const body = await c.req.json().catch(() => null);
    if (typeof body?.email !== "string" || typeof body?.name !== "string") return c.json(bad, 400);
    const user = await withConnection((sql) => q.insertUser(sql, body.email.trim().toLowerCase(), body.name.trim(), body.bio ?? null));
    return user ? c.json(user, 201, { Location: `/users/${user.id}` }) : c.json({ error: { code: "conflict" } }, 409);
  })
  .patch("/users/:id", async (c) => {
    const id = idOf(c.req.param("id"));
    const body = await c.req.json().catch(() => null);
    if (!id || typeof body?.name !== "string") return c.json(bad, 400);
    const user = await withConnection((sql) => q.renameUser(sql, id, body.name.trim()));
    return user ? c.json(user) : c.json(notFound("user"), 404);
  })
  .post("/documents", async (c) => {
    const b = await c.req.json().catch(() => null);
    if (!idOf(String(b?.userId)) || typeof b?.title !== "string") return c.json(bad, 400);
    const doc = await withConnection((sql) => q.insertDocument(sql, b.userId, b.title, b.body ?? "", b.status ?? "draft"));
    if (!doc) return c.json({ error: { code: "unknown_reference" } }, 422);
    return c.json(doc, 201, { Location: `/documents/${doc.id}` });
  })
  .patch("/documents/:id", async (c) => {
    const id = idOf(c.req.param("id"));
    const body = await c.req.json().catch(() => null);
    if (!id || typeof body?.title !== "string") return c.json(bad, 400);
    const doc = await withConnection((sql) => q.retitleDocument(sql, id, body.title.trim()));
    return doc ? c.json(doc) : c.json(notFound("document"), 404);
  });

// The benchmark terminates the backends of requests its load generator abandoned; postgres.js
// reports a connection killed between two queries as an unhandled error, which must not take
// the fixture down mid-run.
process.on("unhandledRejection", () => {});
process.on("uncaughtException", () => {});

const server = Bun.serve({ hostname: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 3100), fetch: app.fetch });
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
