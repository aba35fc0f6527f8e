import { createRoute } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import { adminOnly } from "../auth/authorize";
import type { Db } from "../db/client";
import { flagColumns } from "../db/queries";
import { ifMatchOf, requireMatch, type Tx } from "../lib/preconditions";
import { featureFlags } from "../db/schema";
import { notFound } from "../lib/errors";
import { authenticated, bodyWrites, conditionalRead, errors, jsonBody, notModified, ok, openApiRouter, stored, writeParameters } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { jsonBodyGuard } from "../lib/validate";
import type { Deps } from "../types";
import { Flag, FlagList } from "./schemas";

export const flagKey = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' or '-', at most 64");
const putFlag = z
  .object({
    enabled: z.boolean(),
    // Any JSON value. A parsed body holds nothing else, so z.unknown() accepts exactly what
    // z.json() would, and unlike z.json()'s recursive schema it has an OpenAPI form.
    value: z.unknown().optional().meta({ description: "Any JSON value, at most 64 KB (UTF-8)" }),
    description: z.string().max(1000).nullable().optional(),
  })
  .strict()
  // Bytes (UTF-8), not UTF-16 code units: "é".repeat(40_000) is 80 KB on the wire and in jsonb.
  .refine((v) => Buffer.byteLength(JSON.stringify(v.value ?? null), "utf8") <= 64 * 1024, {
    message: "value must serialize to at most 64 KB (UTF-8)",
    path: ["value"],
  });

const keyParam = z.object({ key: flagKey });

const listFlags = createRoute({
  method: "get",
  path: "/",
  tags: ["flags"],
  summary: "Every flag (cached)",
  ...conditionalRead,
  responses: { 200: ok(FlagList, "The flags", { etag: true }), ...notModified, ...errors(...stored) },
});
const getFlag = createRoute({
  method: "get",
  path: "/{key}",
  tags: ["flags"],
  summary: "One flag (cached)",
  request: { params: keyParam },
  ...conditionalRead,
  responses: { 200: ok(Flag, "The flag", { etag: true }), ...notModified, ...errors(...stored, 400, 404) },
});
const putFlagRoute = createRoute({
  method: "put",
  path: "/{key}",
  tags: ["flags"],
  summary: "Create or replace a flag (admin)",
  middleware: [adminOnly, jsonBodyGuard],
  request: { params: keyParam, body: jsonBody(putFlag) },
  ...authenticated,
  ...writeParameters({ ifMatch: true }),
  responses: {
    200: ok(Flag, "Replaced"),
    201: ok(Flag, "Created", { location: true }),
    ...errors(...bodyWrites, 412),
  },
});

/** Feature flags / configuration: read on nearly every request by clients, written rarely. */
export function flagsRouter({ database, queries, cache, keys, env }: Deps) {
  return openApiRouter()
    .openapi(listFlags, async (c) => {
      const json = await cache.getOrLoad(keys.flags(), env.CACHE_TTL_FLAGS_S, async () => ({
        items: await queries.flagsAll.execute(),
      }), "flags");
      return sendJson(c, json!);
    })
    .openapi(getFlag, async (c) => {
      const { key } = c.req.valid("param");
      const json = await cache.getOrLoad(keys.flag(key), env.CACHE_TTL_FLAGS_S, async () => {
        return (await queries.flagByKey.execute({ key }))[0] ?? null;
      }, "flags");
      if (json === null) throw notFound("flag");
      return sendJson(c, json);
    })
    .openapi(putFlagRoute, async (c) => {
      const { key } = c.req.valid("param");
      const body = c.req.valid("json");
      const values = { key, enabled: body.enabled, value: body.value ?? null, description: body.description ?? null };
      const upsert = async (q: Db | Tx) =>
        (
          await q
            .insert(featureFlags)
            .values(values)
            .onConflictDoUpdate({
              target: featureFlags.key,
              set: { enabled: values.enabled, value: values.value, description: values.description, updatedAt: sql`now()` },
            })
            // xmax = 0 only on a freshly inserted row: tells a create (201) from an update (200) in
            // the same single statement.
            .returning({ ...flagColumns, created: sql<boolean>`(xmax = 0)` })
        )[0];
      const ifMatch = ifMatchOf(c);
      const row =
        ifMatch === undefined
          ? await upsert(database.db)
          : await database.db.transaction(async (tx) => {
              // GET /flags/:key's representation; no flag yet means no current version to match (412).
              const [current] = await tx.select(flagColumns).from(featureFlags).where(eq(featureFlags.key, key)).for("update");
              requireMatch(ifMatch, current);
              return upsert(tx);
            });
      await cache.evict(keys.flag(key), keys.flags());
      const { created, ...flag } = row!;
      if (created) {
        c.header("Location", `/flags/${encodeURIComponent(key)}`);
        return c.json(flag, 201);
      }
      return c.json(flag);
    });
}
