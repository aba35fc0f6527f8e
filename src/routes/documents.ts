import { and, eq, sql } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { caller } from "../auth/authorize";
import { documentColumns } from "../db/queries";
import { documents, documentStatus } from "../db/schema";
import { ApiError, forbidden, notFound } from "../lib/errors";
import { idParam, id as idSchema, patchOf } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import type { AppEnv, Deps } from "../types";

const MAX_BODY_BYTES = 100 * 1024;
const title = z.string().trim().min(1).max(300);
const body = z.string().refine((s) => Buffer.byteLength(s, "utf8") <= MAX_BODY_BYTES, {
  message: `body must be at most ${MAX_BODY_BYTES} bytes (UTF-8)`,
});
const status = z.enum(documentStatus.enumValues);
// userId defaults to the caller; naming someone else is for admins only.
const createDocument = z.object({ userId: idSchema.optional(), title, body: body.optional(), status: status.optional() }).strict();
const updateDocument = patchOf({ title, body, status });

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
  const refusal = async (id: number) => {
    const [row] = await db.select({ id: documents.id }).from(documents).where(eq(documents.id, id));
    return row ? forbidden("only the document's owner or an admin may change it") : notFound("document");
  };

  return new Hono<AppEnv>()
    .get("/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      // Cached for CACHE_TTL_DOCUMENT_S: the document is evicted on its own writes; the embedded
      // author name may lag a rename by at most that TTL (accepted staleness, see README).
      const json = await cache.getOrLoad(keys.document(id), env.CACHE_TTL_DOCUMENT_S, async () => {
        return (await queries.docWithAuthor.execute({ id }))[0] ?? null;
      }, "documents");
      if (json === null) throw notFound("document");
      return sendJson(c, json);
    })
    .post("/", validate("json", createDocument), async (c) => {
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
    .patch("/:id", validate("param", idParam), validate("json", updateDocument), async (c) => {
      const { id } = c.req.valid("param");
      const [doc] = await db
        .update(documents)
        .set({ ...c.req.valid("json"), updatedAt: sql`now()` })
        .where(ownedBy(c, id))
        .returning(documentColumns);
      if (!doc) throw await refusal(id);
      await evictFor(doc);
      return c.json(doc);
    })
    .delete("/:id", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const [doc] = await db
        .delete(documents)
        .where(ownedBy(c, id))
        .returning({ id: documents.id, userId: documents.userId });
      if (!doc) throw await refusal(id);
      await evictFor(doc);
      return c.body(null, 204);
    });
}
