import { expect, test } from "bun:test";
import postgres from "postgres";
import { createDatabase } from "../src/db/client";
import { migrate } from "../src/db/migrate";
import { createTelemetry } from "../src/context/telemetry";
import { freshDatabase, testEnv } from "./support/env";
import journal from "../drizzle/meta/_journal.json";

test("instances starting together migrate once (advisory lock) and a rerun is a no-op", async () => {
  const { url } = await freshDatabase("migrate");
  const env = testEnv({ DATABASE_URL: url });
  const dbs = await Promise.all([1, 2, 3].map(() => createDatabase(env, createTelemetry())));
  try {
    await Promise.all(dbs.map((d) => migrate(d)));
    await migrate(dbs[0]!);
    const sql = postgres(url, { max: 1 });
    const tables = await sql<{ t: string }[]>`select tablename as t from pg_tables where schemaname = 'public' order by 1`;
    expect(tables.map((r) => r.t)).toEqual(["documents", "feature_flags", "idempotency_keys", "users"]);
    const [applied] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    // Each migration once, however many instances ran them.
    expect(applied?.n).toBe(journal.entries.length);
    const idx = await sql<{ i: string }[]>`select indexdef as i from pg_indexes where tablename = 'documents' order by indexname`;
    // The composite index matches ORDER BY created_at DESC, id DESC exactly (plain DESC = NULLS FIRST).
    expect(idx.map((r) => r.i).join("\n")).toContain("(user_id, created_at DESC, id DESC)");
    await sql.end();
  } finally {
    await Promise.all(dbs.map((d) => d.close()));
  }
});
