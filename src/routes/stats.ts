import { Hono } from "hono";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { sendJson } from "../lib/respond";
import { validate } from "../lib/validate";
import { statsRepository } from "../repositories/stats";
import type { AppEnv } from "../context/app-env";
import type { Deps } from "../types";

/** GET /users/:id/stats (cached CACHE_TTL_USER_STATS_S, evicted on the user's document writes), GET /stats. */
export function statsRouter({ reads, cache, keys, env }: Deps) {
  const stats = statsRepository(reads.primary);
  // Aggregates are the fills worth moving off the primary: reads.fresh() uses a replica only when
  // it has replayed everything the primary had when the fill started (src/db/replicas.ts).
  const loadUserStats = (userId: number) => reads.fresh((on) => stats.forUser(userId, on));
  const loadGlobal = () => reads.fresh((on) => stats.global(on));

  return new Hono<AppEnv>()
    .get("/users/:id/stats", validate("param", idParam), async (c) => {
      const { id } = c.req.valid("param");
      const entry = await cache.getOrLoadEntry(keys.userStats(id), env.CACHE_TTL_USER_STATS_S, () => loadUserStats(id), "user_stats");
      if (entry === null) throw notFound("user");
      return sendJson(c, entry.json, 200, entry.coded);
    })
    .get("/stats", async (c) => {
      const entry = await cache.getOrLoadEntry(keys.globalStats(), env.CACHE_TTL_GLOBAL_STATS_S, loadGlobal, "global_stats");
      return sendJson(c, entry!.json, 200, entry!.coded);
    });
}
