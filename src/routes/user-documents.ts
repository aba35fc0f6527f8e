import { Hono } from "hono";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import { documentStatus } from "../db/schema";
import type { AppEnv } from "../context/app-env";
import type { Deps } from "../types";
import { cachedProfile } from "./users";

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).optional(),
  status: z.enum(documentStatus.enumValues).optional(),
});

/** GET /users/:id/documents — newest first, keyset-paginated, list columns only. */
export function userDocumentsRouter(deps: Deps) {
  const { reads } = deps;
  return new Hono<AppEnv>().get("/:id/documents", validate("param", idParam), validate("query", listQuery), async (c) => {
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
