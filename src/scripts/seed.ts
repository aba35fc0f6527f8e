import { parseArgs } from "node:util";
import { seed } from "../db/seed";
import { commandEnv } from "../env";
import { createServices } from "../services";

// `bun run db:seed [--users N] [--documents N]` against DATABASE_URL.
const { values } = parseArgs({
  options: { users: { type: "string", default: "10000" }, documents: { type: "string", default: "1000000" } },
});
const users = Number(values.users);
const documents = Number(values.documents);
if (!Number.isInteger(users) || users < 1 || !Number.isInteger(documents) || documents < 0) {
  console.error("db:seed: --users must be a positive integer and --documents a non-negative integer");
  process.exit(2);
}
// Batches of 100 000 rows may take longer than the service's statement_timeout on a busy box.
// AUTH off: the seeder serves no requests, so it needs no key (and must not generate one).
const services = await createServices({ ...commandEnv({ AUTH: "off" }), LOG_LEVEL: "warn", DB_STATEMENT_TIMEOUT_MS: 0, AUTH: "off" });
console.log(`seeding ${users} users, ${documents} documents into ${services.database.kind}`);
await seed(services.database.db, { users, documents, progress: (l) => console.log(`  ${l}`) });
await services.close();
