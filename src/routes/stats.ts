import { createRoute } from "@hono/zod-openapi";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { conditionalRead, errors, notModified, ok, openApiRouter, stored } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import { GlobalStats, UserStats } from "./schemas";
import { statsRepository } from "../repositories/stats";
import type { Deps } from "../types";

const getUserStats = createRoute({
  method: "get",
  path: "/users/{id}/stats",
  tags: ["stats"],
  summary: "A user's document counts by status and last activity (cached)",
  request: { params: idParam },
  ...conditionalRead,
  responses: { 200: ok(UserStats, "The user's stats", { etag: true }), ...notModified, ...errors(...stored, 400, 404) },
});
const getGlobalStats = createRoute({
  method: "get",
  path: "/stats",
  tags: ["stats"],
  summary: "Counts over all users and documents (cached, may be CACHE_TTL_GLOBAL_STATS_S old)",
  ...conditionalRead,
  responses: { 200: ok(GlobalStats, "The stats", { etag: true }), ...notModified, ...errors(...stored) },
});

/** GET /users/:id/stats (cached CACHE_TTL_USER_STATS_S, evicted on the user's document writes), GET /stats. */
export function statsRouter({ reads, cache, keys, env }: Deps) {
  const stats = statsRepository(reads.primary);
  // Aggregates are the fills worth moving off the primary: reads.fresh() uses a replica only when
  // it has replayed everything the primary had when the fill started (src/db/replicas.ts).
  const loadUserStats = (userId: number) => reads.fresh((on) => stats.forUser(userId, on));
  const loadGlobal = () => reads.fresh((on) => stats.global(on));

  return openApiRouter()
    .openapi(getUserStats, async (c) => {
      const { id } = c.req.valid("param");
      const entry = await cache.getOrLoadEntry(keys.userStats(id), env.CACHE_TTL_USER_STATS_S, () => loadUserStats(id), "user_stats");
      if (entry === null) throw notFound("user");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .openapi(getGlobalStats, async (c) => {
      const entry = await cache.getOrLoadEntry(keys.globalStats(), env.CACHE_TTL_GLOBAL_STATS_S, loadGlobal, "global_stats");
      return sendJson(c, entry!.json, 200, entry!.coded);
    });
}
