import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { adminOnly } from "../auth/authorize";
import { notFound } from "../lib/errors";
import { authenticated, bodyWrites, conditionalRead, errors, jsonBody, notModified, ok, openApiRouter, stored, writeParameters } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { jsonBodyGuard } from "../lib/validate";
import { Flag, FlagList } from "./schemas";
import { ifMatchOf } from "../lib/preconditions";
import { flagsRepository } from "../repositories/flags";
import type { Deps } from "../types";

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
export function flagsRouter({ reads, cache, keys, env }: Deps) {
  const flags = flagsRepository(reads.primary);
  return openApiRouter()
    .openapi(listFlags, async (c) => {
      const entry = await cache.getOrLoadEntry(keys.flags(), env.CACHE_TTL_FLAGS_S, async () => ({ items: await flags.all() }), "flags");
      return sendJson(c, entry!.json, 200, entry!.coded);
    })
    .openapi(getFlag, async (c) => {
      const { key } = c.req.valid("param");
      const entry = await cache.getOrLoadEntry(keys.flag(key), env.CACHE_TTL_FLAGS_S, () => flags.byKey(key), "flags");
      if (entry === null) throw notFound("flag");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .openapi(putFlagRoute, async (c) => {
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
