import { eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../db/client";
import { flagColumns } from "../db/queries";
import type { ReadTarget } from "../db/replicas";
import { featureFlags } from "../db/schema";
import { requireMatch } from "../lib/preconditions";

// Every statement on feature_flags, reads and writes.

export interface FlagInput {
  enabled: boolean;
  value: unknown;
  description: string | null;
}

export function flagsRepository(primary: ReadTarget) {
  const { db, queries } = primary;
  return {
    all: () => queries.flagsAll.execute(),

    async byKey(key: string) {
      return (await queries.flagByKey.execute({ key }))[0] ?? null;
    },

    /**
     * Creates or replaces the flag in one statement; `created` tells which (xmax = 0 only on a
     * freshly inserted row). With `ifMatch`: in a transaction, GET /flags/:key's representation
     * is read FOR UPDATE and compared first; no flag yet means no current version to match (412).
     */
    async put(key: string, input: FlagInput, ifMatch?: string) {
      const values = { key, ...input };
      const upsert = async (q: Db | Tx) =>
        (
          await q
            .insert(featureFlags)
            .values(values)
            .onConflictDoUpdate({
              target: featureFlags.key,
              set: { enabled: values.enabled, value: values.value, description: values.description, updatedAt: sql`now()` },
            })
            .returning({ ...flagColumns, created: sql<boolean>`(xmax = 0)` })
        )[0]!;
      const row =
        ifMatch === undefined
          ? await upsert(db)
          : await db.transaction(async (tx) => {
              const [current] = await tx.select(flagColumns).from(featureFlags).where(eq(featureFlags.key, key)).for("update");
              requireMatch(ifMatch, current);
              return upsert(tx);
            });
      const { created, ...flag } = row;
      return { flag, created };
    },
  };
}

export type FlagsRepository = ReturnType<typeof flagsRepository>;
