import { Hono, type Context } from "hono";
import { z } from "zod";
import { caller } from "../auth/authorize";
import { documentStatus } from "../db/schema";
import { ifMatchOf } from "../lib/preconditions";
import { forbidden, notFound } from "../lib/errors";
import { idParam, id as idSchema, patchOf } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
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

  return new Hono<AppEnv>()
    .get("/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      // Cached for CACHE_TTL_DOCUMENT_S: the document is evicted on its own writes; the embedded
      // author name may lag a rename by at most that TTL (accepted staleness, see README).
      const entry = await cache.getOrLoadEntry(keys.document(id), env.CACHE_TTL_DOCUMENT_S, () => docs.withAuthor(id), "documents");
      if (entry === null) throw notFound("document");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .post("/", validate("json", createDocument), async (c) => {
      const { userId, ...fields } = c.req.valid("json");
      const me = caller(c);
      if (userId !== undefined && userId !== me.userId && !me.admin) throw forbidden("documents are created for the caller (userId from the token)");
      const doc = await docs.create({ ...fields, userId: userId ?? me.userId });
      await evictFor(doc);
      c.header("Location", `/documents/${doc.id}`);
      return c.json(doc, 201);
    })
    .patch("/:id", validate("param", idParam), validate("json", updateDocument), async (c) => {
      const { id } = c.req.valid("param");
      const doc = await docs.update(id, c.req.valid("json"), guardOf(c));
      await evictFor(doc);
      return c.json(doc);
    })
    .delete("/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const doc = await docs.remove(id, guardOf(c));
      await evictFor(doc);
      return c.body(null, 204);
    });
}
