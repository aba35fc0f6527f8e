import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { conditionalRead, errors, lsnParameter, notModified, ok, openApiRouter, stored } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { documentStatus } from "../db/schema";
import { DocumentPage } from "./schemas";
import { cachedProfile } from "./users";
import { userDocumentsRepository } from "../repositories/user-documents";
import { usersRepository } from "../repositories/users";
import type { Deps } from "../types";

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
  const list = userDocumentsRepository(reads.primary);
  const users = usersRepository(reads.primary);
  return openApiRouter().openapi(listDocuments, async (c) => {
    const { id: userId } = c.req.valid("param");
    const { limit, cursor: rawCursor, status } = c.req.valid("query");
    const after = rawCursor ? decodeCursor(rawCursor) : undefined;
    // Uncached: a replica may answer (src/db/replicas.ts; the writer's Hotpath-LSN is honoured).
    const { items, more } = await reads.read(c, (on) => list.page({ userId, limit, after, status }, on));
    if (items.length === 0) {
      // An empty page is either a user with no documents (or none left past the cursor) or no
      // user at all; only here is the (cached) profile consulted, so the common path stays one
      // query. Checked with a cursor too: a forged or foreign cursor must not turn an unknown
      // user into a 200.
      if ((await cachedProfile(deps, users, userId)) === null) throw notFound("user");
    }
    const last = items.at(-1);
    const nextCursor = more && last ? encodeCursor(last) : null;
    return sendJson(c, JSON.stringify({ items, nextCursor }));
  });
}
