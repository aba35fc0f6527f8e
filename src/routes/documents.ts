import { and, eq, sql, type SQL } from "drizzle-orm";
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { caller } from "../auth/authorize";
import type { Db } from "../db/client";
import { docWithAuthorColumns, documentColumns } from "../db/queries";
import { documents, documentStatus, users } from "../db/schema";
import { ifMatchOf, requireMatch, type Tx } from "../lib/preconditions";
import { ApiError, forbidden, notFound } from "../lib/errors";
import { idParam, id as idSchema, patchOf } from "../lib/params";
import { authenticated, bodyWrites, conditionalRead, empty, errors, jsonBody, notModified, ok, openApiRouter, stored, writeParameters, writes } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { jsonBodyGuard } from "../lib/validate";
import type { AppEnv, Deps } from "../types";
import { Document, DocumentWithAuthor } from "./schemas";

const MAX_BODY_BYTES = 100 * 1024;
const title = z.string().trim().min(1).max(300);
const body = z.string().refine((s) => Buffer.byteLength(s, "utf8") <= MAX_BODY_BYTES, {
  message: `body must be at most ${MAX_BODY_BYTES} bytes (UTF-8)`,
});
const status = z.enum(documentStatus.enumValues);
// userId defaults to the caller; naming someone else is for admins only.
const createDocument = z.object({ userId: idSchema.optional(), title, body: body.optional(), status: status.optional() }).strict();
const updateDocument = patchOf({ title, body, status });

const getDocument = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["documents"],
  summary: "A document with its author's name (cached)",
  request: { params: idParam },
  ...conditionalRead,
  responses: { 200: ok(DocumentWithAuthor, "The document", { etag: true }), ...notModified, ...errors(...stored, 400, 404) },
});
const postDocument = createRoute({
  method: "post",
  path: "/",
  tags: ["documents"],
  summary: "Create a document (for the caller; an admin may name another userId)",
  middleware: [jsonBodyGuard],
  request: { body: jsonBody(createDocument) },
  ...authenticated,
  ...writeParameters(),
  responses: { 201: ok(Document, "Created", { location: true }), ...errors(...bodyWrites) },
});
const patchDocument = createRoute({
  method: "patch",
  path: "/{id}",
  tags: ["documents"],
  summary: "Change a document (its owner or an admin)",
  middleware: [jsonBodyGuard],
  request: { params: idParam, body: jsonBody(updateDocument) },
  ...authenticated,
  ...writeParameters({ ifMatch: true }),
  responses: { 200: ok(Document, "The changed document"), ...errors(...bodyWrites, 404, 412) },
});
const deleteDocument = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["documents"],
  summary: "Delete a document (its owner or an admin)",
  request: { params: idParam },
  ...authenticated,
  ...writeParameters({ ifMatch: true }),
  responses: { 204: empty("Deleted"), ...errors(...writes, 404, 412) },
});

export function documentsRouter({ database, queries, cache, keys, env }: Deps) {
  const { db } = database;
  const evictFor = (doc: { id: number; userId: number }) =>
    // Global stats are not evicted here: recomputing them on every write would defeat their cache;
    // they are allowed CACHE_TTL_GLOBAL_STATS_S of staleness instead.
    cache.evict(keys.document(doc.id), keys.userStats(doc.userId));
  // The write's own WHERE carries the ownership test (one statement, no read-then-write race);
  // only when it matched nothing is the reason looked up: no such document (404, for anyone,
  // so ids reveal nothing) or someone else's (403).
  const ownedBy = (c: Context<AppEnv>, id: number) => {
    const me = caller(c);
    return me.admin ? eq(documents.id, id) : and(eq(documents.id, id), eq(documents.userId, me.userId));
  };
  const notOwner = () => forbidden("only the document's owner or an admin may change it");
  const refusal = async (id: number) => {
    const [row] = await db.select({ id: documents.id }).from(documents).where(eq(documents.id, id));
    return row ? notOwner() : notFound("document");
  };

  /**
   * Runs a write of document `id`. Without If-Match: one statement whose WHERE carries the
   * ownership test. With it: in a transaction, the GET's representation read FOR UPDATE (the
   * document row only; the author's name is part of the ETag but not locked), then 404/403 before
   * the precondition (RFC 9110 §13.2.1: a failed precondition is only reported for a request that
   * would otherwise succeed), then 412 or the write (lib/preconditions.ts).
   */
  async function conditionally<T>(c: Context<AppEnv>, id: number, write: (q: Db | Tx, where: SQL | undefined) => Promise<T | undefined>): Promise<T> {
    const ifMatch = ifMatchOf(c);
    if (ifMatch === undefined) {
      const done = await write(db, ownedBy(c, id));
      if (done === undefined) throw await refusal(id);
      return done;
    }
    return db.transaction(async (tx) => {
      const [current] = await tx
        .select(docWithAuthorColumns)
        .from(documents)
        .innerJoin(users, eq(users.id, documents.userId))
        .where(eq(documents.id, id))
        .for("update", { of: documents });
      if (!current) throw notFound("document");
      const me = caller(c);
      if (!me.admin && current.userId !== me.userId) throw notOwner();
      requireMatch(ifMatch, current);
      return (await write(tx, eq(documents.id, id)))!;
    });
  }

  return openApiRouter()
    .openapi(getDocument, async (c) => {
      const { id } = c.req.valid("param");
      // Cached for CACHE_TTL_DOCUMENT_S: the document is evicted on its own writes; the embedded
      // author name may lag a rename by at most that TTL (accepted staleness, see README).
      const json = await cache.getOrLoad(keys.document(id), env.CACHE_TTL_DOCUMENT_S, async () => {
        return (await queries.docWithAuthor.execute({ id }))[0] ?? null;
      }, "documents");
      if (json === null) throw notFound("document");
      return sendJson(c, json);
    })
    .openapi(postDocument, async (c) => {
      const { userId, ...fields } = c.req.valid("json");
      const me = caller(c);
      if (userId !== undefined && userId !== me.userId && !me.admin) throw forbidden("documents are created for the caller (userId from the token)");
      const input = { ...fields, userId: userId ?? me.userId };
      let doc;
      try {
        [doc] = await db.insert(documents).values(input).returning(documentColumns);
      } catch (err) {
        if (((err as { cause?: { code?: string } }).cause ?? (err as { code?: string })).code === "23503") {
          throw new ApiError(422, "unknown_reference", "userId does not name an existing user", [
            { location: "json", path: "userId", message: "no such user" },
          ]);
        }
        throw err;
      }
      await evictFor(doc!);
      c.header("Location", `/documents/${doc!.id}`);
      return c.json(doc!, 201);
    })
    .openapi(patchDocument, async (c) => {
      const { id } = c.req.valid("param");
      const fields = { ...c.req.valid("json"), updatedAt: sql`now()` };
      const doc = await conditionally(c, id, async (q, where) => (await q.update(documents).set(fields).where(where).returning(documentColumns))[0]);
      await evictFor(doc);
      return c.json(doc);
    })
    .openapi(deleteDocument, async (c) => {
      const { id } = c.req.valid("param");
      const doc = await conditionally(c, id, async (q, where) => (await q.delete(documents).where(where).returning({ id: documents.id, userId: documents.userId }))[0]);
      await evictFor(doc);
      return c.body(null, 204);
    });
}
