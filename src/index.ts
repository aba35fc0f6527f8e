import { createApp } from "./app";
import { seedDemoIfEmpty } from "./db/seed";
import { env as loadEnv } from "./env";
import { logger } from "./lib/log";
import { createServices } from "./services";

const env = loadEnv();
const log = logger(env.LOG_LEVEL);
const services = await createServices(env, { migrate: env.MIGRATE_ON_START });
if (env.DB_SEED_DEMO && (await seedDemoIfEmpty(services.database.db))) log.info("seeded a demo data set (100 users, 2000 documents)");
const app = createApp(services);

const server = Bun.serve({ hostname: env.HOST, port: env.PORT, fetch: app.fetch });
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

const url = `http://${env.HOST === "0.0.0.0" ? "127.0.0.1" : env.HOST}:${server.port}`;
const pgDesc = services.database.kind === "pglite" ? `PGlite (embedded, ${env.PGLITE_DIR})` : "PostgreSQL";
const cacheDesc = services.cache.store.kind === "memory" ? "in-process LRU (no REDIS_URL)" : services.cache.store.kind;
log.info(`hotpath listening on ${url}`, { database: pgDesc, cache: cacheDesc, pool: services.database.poolMax });
if (env.LOG_LEVEL !== "silent") console.log(`try: curl -i ${url}/users/1`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  // stop(false): stop accepting, let in-flight requests finish; then close the pool and Redis.
  const drained = server.stop(false);
  const deadline = new Promise((r) => setTimeout(r, env.SHUTDOWN_TIMEOUT_S * 1000));
  await Promise.race([drained, deadline]);
  await services.close();
  log.info("bye");
  process.exit(0);
}
