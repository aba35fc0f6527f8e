import type { ReadTarget } from "../db/replicas";
import { documentStatus, type DocumentStatus } from "../db/schema";

// The aggregates: one user's documents by status, and the whole tables'. Both are statements of
// the table (db/queries.ts); here their rows become the shapes GET /users/:id/stats and GET /stats
// send.

const zeroCounts = () => Object.fromEntries(documentStatus.enumValues.map((s) => [s, 0])) as Record<DocumentStatus, number>;
const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | number | Date).toISOString());
const sum = (byStatus: Record<DocumentStatus, number>) => Object.values(byStatus).reduce((a, b) => a + b, 0);

export function statsRepository(primary: ReadTarget) {
  return {
    /** One user's document counts and last activity, or null when there is no such user. */
    async forUser(userId: number, on: ReadTarget = primary) {
      const rows = await on.queries.userStats.execute({ userId });
      if (rows.length === 0) return null;
      const byStatus = zeroCounts();
      let last: string | null = null;
      for (const r of rows) {
        if (r.status) byStatus[r.status] = Number(r.n);
        const at = iso(r.last);
        if (at && (!last || at > last)) last = at;
      }
      // lastActivityAt: when the user's newest document was created (null without documents).
      return { userId, documents: { total: sum(byStatus), byStatus }, lastActivityAt: last };
    },

    /** Whole-table counts: the reason this answer is cached rather than computed per request. */
    async global(on: ReadTarget = primary) {
      const rows = await on.queries.globalStats.execute();
      const byStatus = zeroCounts();
      for (const r of rows) if (r.status) byStatus[r.status] = Number(r.n);
      const first = rows[0];
      return {
        users: Number(first?.users ?? 0),
        documents: { total: sum(byStatus), byStatus, last24h: Number(first?.last24h ?? 0) },
        computedAt: iso(Date.now()),
      };
    },
  };
}

export type StatsRepository = ReturnType<typeof statsRepository>;
