import { eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { adminOnly } from "../auth/authorize";
import type { Db } from "../db/client";
import { flagColumns } from "../db/queries";
import { ifMatchOf, requireMatch, type Tx } from "../lib/preconditions";
import { featureFlags } from "../db/schema";
import { notFound } from "../lib/errors";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import type { AppEnv, Deps } from "../types";

export const flagKey = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' or '-', at most 64");
const putFlag = z
  .object({
    enabled: z.boolean(),
    value: z.json().optional(),
    description: z.string().max(1000).nullable().optional(),
  })
  .strict()
  // Bytes (UTF-8), not UTF-16 code units: "é".repeat(40_000) is 80 KB on the wire and in jsonb.
  .refine((v) => Buffer.byteLength(JSON.stringify(v.value ?? null), "utf8") <= 64 * 1024, {
    message: "value must serialize to at most 64 KB (UTF-8)",
    path: ["value"],
  });

/** Feature flags / configuration: read on nearly every request by clients, written rarely. */
export function flagsRouter({ database, queries, cache, keys, env }: Deps) {
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const entry = await cache.getOrLoadEntry(keys.flags(), env.CACHE_TTL_FLAGS_S, async () => ({
        items: await queries.flagsAll.execute(),
      }), "flags");
      return sendJson(c, entry!.json, 200, entry!.coded);
    })
    .get("/:key", validate("param", z.object({ key: flagKey })), async (c) => {
      const { key } = c.req.valid("param");
      const entry = await cache.getOrLoadEntry(keys.flag(key), env.CACHE_TTL_FLAGS_S, async () => {
        return (await queries.flagByKey.execute({ key }))[0] ?? null;
      }, "flags");
      if (entry === null) throw notFound("flag");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .put("/:key", adminOnly, validate("param", z.object({ key: flagKey })), validate("json", putFlag), async (c) => {
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
