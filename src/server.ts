import { createApp } from "./app";
import { seedDemoIfEmpty } from "./db/seed";
import type { Env } from "./env";
import { createLifecycle, serve } from "./lifecycle";
import { createServices } from "./services";
import { startupTokens } from "./auth/startup";
import { workerLink } from "./workers/link";

/** One server process: the whole service (index.ts runs it directly, or N of them with WORKERS). */
export async function runServer(env: Env) {
  const workers = workerLink(env.HOTPATH_WORKER);
  // Of N workers, the first seeds and prints the startup hints (migrations take a lock of their own).
  const first = workers === undefined || workers.id === "1";
  const services = await createServices(env, { migrate: env.MIGRATE_ON_START });
  const { log } = services;
  if (first && env.DB_SEED_DEMO && (await seedDemoIfEmpty(services.database.db))) log.info("seeded a demo data set (100 users, 2000 documents)");
  const lifecycle = createLifecycle();
  const app = createApp({ ...services, lifecycle, workers });
  if (first && services.auth.source.kind === "off") log.warn("AUTH=off: every write is accepted without a token; trusted network only");
  const { server } = serve({ env, log, lifecycle, fetch: app.fetch, close: services.close, reusePort: workers !== undefined });

  const url = `http://${env.HOST === "0.0.0.0" ? "127.0.0.1" : env.HOST}:${server.port}`;
  const pgDesc = services.database.kind === "pglite" ? `PGlite (embedded, ${env.PGLITE_DIR})` : "PostgreSQL";
  const cacheDesc = services.cache.store.kind === "memory" ? "in-process LRU (no REDIS_URL)" : services.cache.store.kind;
  log.info(`hotpath listening on ${url}`, {
    database: pgDesc,
    cache: cacheDesc,
    pool: services.database.poolMax,
    ...(workers && { worker: workers.id, pid: process.pid }),
  });
  if (first && env.LOG_LEVEL !== "silent") {
    log.flush(); // the hints follow the listening line
    console.log(`try: curl -i ${url}/users/1`);
    console.log(await startupTokens(services.auth.source, env, url));
  }
}

