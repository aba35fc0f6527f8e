import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { z } from "zod";
import { caller } from "../auth/authorize";
import { idParam, id as idSchema, patchOf } from "../lib/params";
import { authenticated, bodyWrites, conditionalRead, empty, errors, jsonBody, notModified, ok, openApiRouter, stored, writeParameters, writes } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { jsonBodyGuard } from "../lib/validate";
import { Document, DocumentWithAuthor } from "./schemas";
import { documentStatus } from "../db/schema";
import { ifMatchOf } from "../lib/preconditions";
import { forbidden, notFound } from "../lib/errors";
import { documentsRepository } from "../repositories/documents";
import type { AppEnv } from "../context/app-env";
import type { Deps } from "../types";

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

export function documentsRouter({ reads, cache, keys, env }: Deps) {
  const docs = documentsRepository(reads.primary);
  const evictFor = (doc: { id: number; userId: number }) =>
    // Global stats are not evicted here: recomputing them on every write would defeat their cache;
    // they are allowed CACHE_TTL_GLOBAL_STATS_S of staleness instead.
    cache.evict(keys.document(doc.id), keys.userStats(doc.userId));
  // Whose documents the caller may write (undefined: an admin's, any), and the If-Match header.
  const guardOf = (c: Context<AppEnv>) => {
    const me = caller(c);
    return { owner: me.admin ? undefined : me.userId, ifMatch: ifMatchOf(c) };
  };

  return openApiRouter()
    .openapi(getDocument, async (c) => {
      const { id } = c.req.valid("param");
      // Cached for CACHE_TTL_DOCUMENT_S: the document is evicted on its own writes; the embedded
      // author name may lag a rename by at most that TTL (accepted staleness, see README).
      const entry = await cache.getOrLoadEntry(keys.document(id), env.CACHE_TTL_DOCUMENT_S, () => docs.withAuthor(id), "documents");
      if (entry === null) throw notFound("document");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .openapi(postDocument, async (c) => {
      const { userId, ...fields } = c.req.valid("json");
      const me = caller(c);
      if (userId !== undefined && userId !== me.userId && !me.admin) throw forbidden("documents are created for the caller (userId from the token)");
      const doc = await docs.create({ ...fields, userId: userId ?? me.userId });
      await evictFor(doc);
      c.header("Location", `/documents/${doc.id}`);
      return c.json(doc, 201);
    })
    .openapi(patchDocument, async (c) => {
      const { id } = c.req.valid("param");
      const doc = await docs.update(id, c.req.valid("json"), guardOf(c));
      await evictFor(doc);
      return c.json(doc);
    })
    .openapi(deleteDocument, async (c) => {
      const { id } = c.req.valid("param");
      const doc = await docs.remove(id, guardOf(c));
      await evictFor(doc);
      return c.body(null, 204);
    });
}
