import { Hono } from "hono";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import { documentStatus } from "../db/schema";
import { userDocumentsRepository } from "../repositories/user-documents";
import { usersRepository } from "../repositories/users";
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
  const list = userDocumentsRepository(reads.primary);
  const users = usersRepository(reads.primary);
  return new Hono<AppEnv>().get("/:id/documents", validate("param", idParam), validate("query", listQuery), async (c) => {
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
