import { createLimits } from "./auth/limits";
import { resolveKeySource } from "./auth/secret";
import { createVerifier } from "./auth/verify";
import type { Cluster, Redis } from "ioredis";
import { createBreaker } from "./cache/breaker";
import { busChannel, createRedisBus, type InvalidationBus } from "./cache/bus";
import { createCacheAside } from "./cache/cache-aside";
import { cacheKeys, KEY_VERSION } from "./cache/keys";
import { createRedisStore } from "./cache/redis-store";
import { createMemoryStore, type CacheStore } from "./cache/store";
import { connectPostgres, createDatabase } from "./db/client";
import { createReadRouter, replicaName, type Replica } from "./db/replicas";
import { migrate } from "./db/migrate";
import { pointReads } from "./db/hot-queries";
import { idempotencyStatements } from "./db/idempotency";
import { createQueries } from "./db/queries";
import type { Env } from "./env";
import { trustedProxies } from "./lib/client-address";
import { precompressor } from "./lib/encoding";
import { logger, type Logger } from "./lib/log";
import { createTelemetry } from "./context/telemetry";
import { loadTracer } from "./obs/tracing";
import type { Deps } from "./types";

export interface Services extends Deps {
  close(): Promise<void>;
}

export function createStore(env: Env, onError?: (err: Error) => void): CacheStore & { client?: Redis | Cluster } {
  const clusterNodes = env.REDIS_CLUSTER_NODES?.split(",").map((s) => s.trim()).filter(Boolean);
  if (env.REDIS_URL || clusterNodes?.length) {
    return createRedisStore({
      url: env.REDIS_URL,
      clusterNodes,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: env.REDIS_CONNECT_TIMEOUT_MS,
      channel: busChannel(env.REDIS_KEY_PREFIX),
      onError,
    });
  }
  return createMemoryStore(env.CACHE_MEMORY_MAX_ENTRIES);
}

/**
 * Connects Postgres (or PGlite) and Redis (or the in-memory LRU), migrates, builds the deps.
 * `log`: the process's logger (default: stdout at LOG_LEVEL); tests pass one over a collector.
 */
export async function createServices(env: Env, opts: { migrate?: boolean; log?: Logger } = {}): Promise<Services> {
  const log = opts.log ?? logger(env.LOG_LEVEL);
  const telemetry = createTelemetry();
  // INSTRUMENTATION=off: the driver and the cache get no telemetry, so they time nothing.
  const measured = env.INSTRUMENTATION === "on" ? telemetry : undefined;
  const database = await createDatabase(env, measured);
  if (opts.migrate ?? true) await migrate(database);
  let lastRedisError = 0;
  const store = createStore(env, (err) => {
    // Reconnect errors repeat every backoff step; one line per 10 s is enough to see an outage.
    if (Date.now() - lastRedisError > 10_000) log.warn("redis error (serving from Postgres)", { err: err.message });
    lastRedisError = Date.now();
  });
  // With the offline queue off, commands sent before "ready" fail; wait briefly for the connection
  // (a dead Redis only delays startup by the connect timeout, then the service runs fail-open).
  if (!(await store.ready(env.REDIS_CONNECT_TIMEOUT_MS))) log.warn("cache not reachable at startup; serving from Postgres");
  // L1 only over Redis: with the in-process store it would be a second copy of the same memory.
  let bus: InvalidationBus | undefined;
  if (env.CACHE_L1 === "on" && store.client) {
    let lastBusError = 0;
    bus = createRedisBus(store.client, busChannel(env.REDIS_KEY_PREFIX), (err) => {
      if (Date.now() - lastBusError > 10_000) log.warn("cache invalidation bus error", { err: err.message });
      lastBusError = Date.now();
    });
    bus.onState((up) =>
      up
        ? log.info("cache invalidation bus subscribed: L1 in use (cleared)")
        : log.warn("cache invalidation bus disconnected: L1 bypassed and cleared until resubscribed"),
    );
  }
  // One breaker for everything that talks to Redis through this client (the cache and the rate
  // limits): whichever meets a sick Redis first opens it, and then neither waits on Redis.
  const breaker = createBreaker({ threshold: env.CACHE_BREAKER_THRESHOLD, cooldownMs: env.CACHE_BREAKER_COOLDOWN_MS });
  let recovered!: () => void;
  const firstRecovery = new Promise<void>((r) => (recovered = r));
  const cache = createCacheAside({
    store,
    breaker,
    telemetry: measured,
    negativeTtlS: env.CACHE_TTL_NEGATIVE_S,
    jitterPct: env.CACHE_TTL_JITTER_PCT,
    graceS: env.CACHE_GRACE_S,
    l1: bus && { ttlMs: env.CACHE_L1_CLASSES, maxEntries: env.CACHE_L1_MAX_ENTRIES, bus },
    precompress: precompressor(env.COMPRESS_MIN_BYTES, env.COMPRESS_CACHE_ENCODINGS),
    onRefreshError: (key, err) => log.debug("cache refresh failed (stale value served)", { key, err }),
    recovery: {
      // Cache entries only (the versioned namespace), never generation counters.
      match: `${env.REDIS_KEY_PREFIX}:${KEY_VERSION}:*`,
      ttlS: env.CACHE_RECOVERY_TTL_S,
      onDone: (r) => {
        if ("error" in r) log.warn("cache recovery: TTL clamp failed", { err: r.error.message });
        else log.info("cache recovery: entry TTLs clamped", { entries: r.entries, maxTtlS: env.CACHE_RECOVERY_TTL_S });
        recovered();
      },
    },
  });
  let lastExportError = 0;
  const tracer = await loadTracer(env, (err) => {
    // A dead collector fails every batch; one line a minute says so without flooding the log.
    if (Date.now() - lastExportError > 60_000) log.warn("trace export failed (spans dropped)", { err: String(err) });
    lastExportError = Date.now();
  });
  const queries = createQueries(database.db);
  database.setPointStatements([...pointReads(queries), ...idempotencyStatements()]);
  // Each replica: its own connections, lanes, probe and prepared statements (src/db/replicas.ts).
  const replicas = (env.DATABASE_REPLICA_URLS ?? []).map((url): Replica => {
    const point = new Set<string>();
    const replica = connectPostgres(url, env, measured, { point, setPointStatements: (t) => t }, "hotpath-replica");
    const replicaQueries = createQueries(replica.db);
    for (const text of pointReads(replicaQueries)) point.add(text);
    return { name: replicaName(url), database: replica, db: replica.db, queries: replicaQueries, up: false, replayed: 0n };
  });
  const reads = createReadRouter({ primary: { db: database.db, queries }, replicas, checkMs: env.DB_REPLICA_CHECK_MS, log });
  await reads.ready();
  for (const r of replicas) if (!r.up) log.warn("replica not reachable at startup; its reads go to the primary", { replica: r.name });
  const keys = cacheKeys(env.REDIS_KEY_PREFIX);
  const source = resolveKeySource(env);
  const auth = {
    source,
    verify: source.kind === "off" ? undefined : createVerifier(source, env),
    limits: createLimits(env, keys.rateLimit, store.client, breaker),
    trustedProxies: trustedProxies(env.TRUSTED_PROXIES),
  };
  // Serve once the clamp is done (entries are then bounded before the first read), but never wait
  // on it longer than on the connection itself: a large keyspace must not hold up startup.
  if (store.kind !== "memory" && env.CACHE_RECOVERY_TTL_S > 0) {
    await Promise.race([firstRecovery, Bun.sleep(env.REDIS_CONNECT_TIMEOUT_MS)]);
  }
  return {
    env,
    log,
    database,
    queries,
    reads,
    cache,
    keys,
    telemetry,
    tracer,
    auth,
    async close() {
      // Last chance for evictions Redis did not take: once the process is gone they are lost (the
      // next instance's recovery clamp bounds what that costs).
      const lost = await cache.flush();
      if (lost) log.warn("cache evictions not delivered at shutdown", { keys: lost });
      await Promise.allSettled([database.close(), reads.close(), store.close(), tracer?.shutdown(), bus?.close()]);
    },
  };
}
