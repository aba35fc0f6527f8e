import { Hono } from "hono";
import { z } from "zod";
import { adminOnly } from "../auth/authorize";
import { ifMatchOf } from "../lib/preconditions";
import { notFound } from "../lib/errors";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import { flagsRepository } from "../repositories/flags";
import type { AppEnv } from "../context/app-env";
import type { Deps } from "../types";

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
export function flagsRouter({ reads, cache, keys, env }: Deps) {
  const flags = flagsRepository(reads.primary);
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const entry = await cache.getOrLoadEntry(keys.flags(), env.CACHE_TTL_FLAGS_S, async () => ({ items: await flags.all() }), "flags");
      return sendJson(c, entry!.json, 200, entry!.coded);
    })
    .get("/:key", validate("param", z.object({ key: flagKey })), async (c) => {
      const { key } = c.req.valid("param");
      const entry = await cache.getOrLoadEntry(keys.flag(key), env.CACHE_TTL_FLAGS_S, () => flags.byKey(key), "flags");
      if (entry === null) throw notFound("flag");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .put("/:key", adminOnly, validate("param", z.object({ key: flagKey })), validate("json", putFlag), async (c) => {
      const { key } = c.req.valid("param");
      const body = c.req.valid("json");
      const input = { enabled: body.enabled, value: body.value ?? null, description: body.description ?? null };
      const { flag, created } = await flags.put(key, input, ifMatchOf(c));
      await cache.evict(keys.flag(key), keys.flags());
      if (created) {
        c.header("Location", `/flags/${encodeURIComponent(key)}`);
        return c.json(flag, 201);
      }
      return c.json(flag);
    });
}
