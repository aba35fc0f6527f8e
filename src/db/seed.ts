import { parseArgs } from "node:util";
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

// `bun run db:seed [--users N] [--documents N]` against DATABASE_URL.
if (import.meta.main) {
  const { values } = parseArgs({
    options: { users: { type: "string", default: "10000" }, documents: { type: "string", default: "1000000" } },
  });
  const users = Number(values.users);
  const documents = Number(values.documents);
  if (!Number.isInteger(users) || users < 1 || !Number.isInteger(documents) || documents < 0) {
    console.error("db:seed: --users must be a positive integer and --documents a non-negative integer");
    process.exit(2);
  }
  const { env } = await import("../env");
  const { createServices } = await import("../services");
  // Batches of 100 000 rows may take longer than the service's statement_timeout on a busy box.
  // AUTH off: the seeder serves no requests, so it needs no key (and must not generate one).
  const services = await createServices({ ...env(), LOG_LEVEL: "warn", DB_STATEMENT_TIMEOUT_MS: 0, AUTH: "off" });
  console.log(`seeding ${users} users, ${documents} documents into ${services.database.kind}`);
  await seed(services.database.db, { users, documents, progress: (l) => console.log(`  ${l}`) });
  await services.close();
}
