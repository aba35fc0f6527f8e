import { createRoute } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { queryRows } from "../db/client";
import { globalStatsSql } from "../db/queries";
import { documentStatus, type DocumentStatus } from "../db/schema";
import { notFound } from "../lib/errors";
import { idParam } from "../lib/params";
import { conditionalRead, errors, notModified, ok, openApiRouter, stored } from "../lib/openapi";
import { sendJson } from "../lib/respond";
import type { Deps } from "../types";
import { GlobalStats, UserStats } from "./schemas";

const zeroCounts = () => Object.fromEntries(documentStatus.enumValues.map((s) => [s, 0])) as Record<DocumentStatus, number>;
const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | number | Date).toISOString());

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
  // Aggregates are the fills worth moving off the primary: reads.fresh() uses a replica only when
  // it has replayed everything the primary had when the fill started (src/db/replicas.ts).
  const loadUserStats = async (userId: number) => {
    const rows = await reads.fresh(({ queries }) => queries.userStats.execute({ userId }));
    if (rows.length === 0) return null;
    const byStatus = zeroCounts();
    let last: string | null = null;
    for (const r of rows) {
      if (r.status) byStatus[r.status] = Number(r.n);
      const at = iso(r.last);
      if (at && (!last || at > last)) last = at;
    }
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    // lastActivityAt: when the user's newest document was created (null without documents).
    return { userId, documents: { total, byStatus }, lastActivityAt: last };
  };

  // Full-table aggregates: the reason this answer is cached rather than computed per request.
  const loadGlobal = async () => {
    const rows = await reads.fresh(({ db }) =>
      queryRows<{ status: DocumentStatus | null; n: number; users: number; last24h: number }>(db, sql.raw(globalStatsSql)),
    );
    const byStatus = zeroCounts();
    for (const r of rows) if (r.status) byStatus[r.status] = Number(r.n);
    const first = rows[0];
    return {
      users: Number(first?.users ?? 0),
      documents: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus, last24h: Number(first?.last24h ?? 0) },
      computedAt: iso(Date.now()),
    };
  };

  return openApiRouter()
    .openapi(getUserStats, async (c) => {
      const { id } = c.req.valid("param");
      const json = await cache.getOrLoad(keys.userStats(id), env.CACHE_TTL_USER_STATS_S, () => loadUserStats(id), "user_stats");
      if (json === null) throw notFound("user");
      return sendJson(c, json);
    })
    .openapi(getGlobalStats, async (c) => {
      const json = await cache.getOrLoad(keys.globalStats(), env.CACHE_TTL_GLOBAL_STATS_S, loadGlobal, "global_stats");
      return sendJson(c, json!);
    });
}
