import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { conditionalRead, errors, lsnParameter, notModified, ok, openApiRouter, stored } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { documentStatus } from "../db/schema";
import type { Deps } from "../types";
import { DocumentPage } from "./schemas";
import { cachedProfile } from "./users";

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).optional(),
  status: z.enum(documentStatus.enumValues).optional(),
});

const listDocuments = createRoute({
  method: "get",
  path: "/{id}/documents",
  tags: ["documents"],
  summary: "A user's documents, newest first, keyset-paginated (uncached; a replica may answer)",
  request: { params: idParam, query: listQuery },
  parameters: [...conditionalRead.parameters, lsnParameter],
  responses: { 200: ok(DocumentPage, "A page", { etag: true }), ...notModified, ...errors(...stored, 400, 404) },
});

/** GET /users/:id/documents — newest first, keyset-paginated, list columns only. */
export function userDocumentsRouter(deps: Deps) {
  const { reads } = deps;
  return openApiRouter().openapi(listDocuments, async (c) => {
    const { id: userId } = c.req.valid("param");
    const { limit, cursor: rawCursor, status } = c.req.valid("query");
    const cursor = rawCursor ? decodeCursor(rawCursor) : undefined;
    // One row more than asked tells whether there is a next page without a count query.
    const base = { userId, limit: limit + 1 };
    const after = cursor ? { cursorAt: cursor.at, cursorId: cursor.id } : undefined;
    // Uncached: a replica may answer (src/db/replicas.ts; the writer's Hotpath-LSN is honoured).
    const rows = await reads.read(c, ({ queries }) =>
      status
        ? after
          ? queries.docsAfterByStatus.execute({ ...base, ...after, status })
          : queries.docsFirstByStatus.execute({ ...base, status })
        : after
          ? queries.docsAfter.execute({ ...base, ...after })
          : queries.docsFirst.execute(base),
    );
    const items = rows.slice(0, limit);
    if (items.length === 0) {
      // An empty page is either a user with no documents (or none left past the cursor) or no
      // user at all; only here is the (cached) profile consulted, so the common path stays one
      // query. Checked with a cursor too: a forged or foreign cursor must not turn an unknown
      // user into a 200.
      if ((await cachedProfile(deps, userId)) === null) throw notFound("user");
    }
    const last = items.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor(last) : null;
    return sendJson(c, JSON.stringify({ items, nextCursor }));
  });
}
