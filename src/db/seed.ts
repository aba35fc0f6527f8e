import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./client";
import { insertDemoFlags, insertDocuments, insertUsers, syncSequences } from "./seed-sql";

export interface SeedOptions {
  users: number;
  documents: number;
  batch?: number;
  progress?: (line: string) => void;
}

/**
 * Fills users 1..users and documents 1..documents. Idempotent: fixed ids + ON CONFLICT DO
 * NOTHING, so a rerun (or a bigger size) only adds what is missing. Ends with VACUUM ANALYZE so
 * the visibility map allows Index Only Scans and the planner sees real statistics.
 */
export async function seed(db: Db, opts: SeedOptions): Promise<void> {
  const batch = opts.batch ?? 100_000;
  const say = opts.progress ?? (() => {});
  const t0 = performance.now();
  for (let from = 1; from <= opts.users; from += batch) {
    const to = Math.min(opts.users, from + batch - 1);
    await db.execute(insertUsers(from, to));
    say(`users ${to}/${opts.users}`);
  }
  for (let from = 1; from <= opts.documents; from += batch) {
    const to = Math.min(opts.documents, from + batch - 1);
    await db.execute(insertDocuments(from, to, opts.users));
    say(`documents ${to}/${opts.documents} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  for (const q of syncSequences()) await db.execute(q);
  await db.execute(insertDemoFlags());
  say("vacuum analyze");
  await db.execute(sql`vacuum analyze users`);
  await db.execute(sql`vacuum analyze documents`);
  say(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** On an empty database, a small demo data set so the first curl returns data. */
export async function seedDemoIfEmpty(db: Db): Promise<boolean> {
  const [row] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from (select 1 from users limit 1) u`);
  if (Number(row?.n) > 0) return false;
  await seed(db, { users: 100, documents: 2_000 });
  return true;
}
