import { createDatabase } from "../db/client";
import { migrate } from "../db/migrate";
import { commandEnv } from "../env";
import { createTelemetry } from "../context/telemetry";

/**
 * `bun run db:migrate` and the image's `migrate` command (src/cli.ts): apply drizzle/ to
 * DATABASE_URL (or the embedded PGlite when unset) under the same advisory lock as a start, then
 * exit. Migrating serves no request, so it needs no key (commandEnv: AUTH=off unless set).
 */
export async function migrateCommand(): Promise<void> {
  const database = await createDatabase(commandEnv({ AUTH: "off" }), createTelemetry());
  try {
    await migrate(database);
    console.log(`migrations applied (${database.kind})`);
  } finally {
    await database.close();
  }
}

if (import.meta.main) await migrateCommand();
