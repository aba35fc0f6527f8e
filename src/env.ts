import { z } from "zod";

// Every knob in one place, parsed once. A bad value stops the process with the variable's name
// rather than surfacing later as a confusing runtime error.
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off"])
  .transform((v) => ["true", "1", "yes", "on"].includes(v));
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .pipe(z.string().url().optional())
  .optional();

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().default("0.0.0.0"),
  PORT: int(3000, 0, 65535),

  // Postgres. Unset: embedded PGlite in-process, data under PGLITE_DIR.
  DATABASE_URL: optionalUrl,
  PGLITE_DIR: z.string().default("./.data/pglite"),
  // 2, not 4 or 10: see README "Performance" (pool sweep). Not 1: one slow statement would queue all.
  DB_POOL_MAX: int(2, 1, 1000),
  DB_IDLE_TIMEOUT_S: int(30, 0),
  DB_MAX_LIFETIME_S: int(1800, 0),
  DB_CONNECT_TIMEOUT_S: int(5, 1),
  DB_STATEMENT_TIMEOUT_MS: int(5000, 0),
  DB_PREPARE: bool.default(true),
  // Demo data is for the embedded default only. Unset: on without DATABASE_URL, off with it, so
  // an empty real database is never filled with demo users unless asked for explicitly.
  DB_SEED_DEMO: bool.optional(),
  // false: instances never run DDL; the release pipeline runs the `migrate` command first.
  MIGRATE_ON_START: bool.default(true),

  // Redis. Unset: an in-process LRU with the same cache-aside semantics.
  REDIS_URL: optionalUrl,
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[a-z0-9_-]{1,32}$/i).default("hp"),
  REDIS_COMMAND_TIMEOUT_MS: int(100, 1),
  REDIS_CONNECT_TIMEOUT_MS: int(1000, 1),
  CACHE_BREAKER_THRESHOLD: int(5, 1),
  CACHE_BREAKER_COOLDOWN_MS: int(5000, 1),
  CACHE_MEMORY_MAX_ENTRIES: int(50_000, 1),

  // TTLs in seconds = the staleness each kind of data may show to readers.
  CACHE_TTL_USER_S: int(300, 1),
  CACHE_TTL_USER_STATS_S: int(60, 1),
  CACHE_TTL_DOCUMENT_S: int(60, 1),
  CACHE_TTL_GLOBAL_STATS_S: int(30, 1),
  CACHE_TTL_FLAGS_S: int(60, 1),
  CACHE_TTL_NEGATIVE_S: int(10, 1),
  CACHE_TTL_JITTER_PCT: int(10, 0, 50),

  // off: no Server-Timing, no per-request accounting or telemetry (the benchmark's baseline).
  INSTRUMENTATION: z.enum(["on", "off"]).default("on"),
  TIMING_ALLOW_ORIGIN: z.string().optional(),
  BODY_LIMIT_BYTES: int(1024 * 1024, 1),
  REQUEST_TIMEOUT_MS: int(15_000, 1),
  SHUTDOWN_TIMEOUT_S: int(10, 0),

  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  SLOW_QUERY_MS: int(50, 0),
  DEBUG_TOKEN: z.string().min(16).optional(),
  METRICS_TOKEN: z.string().min(1).optional(),
}).transform((e) => ({ ...e, DB_SEED_DEMO: e.DB_SEED_DEMO ?? !e.DATABASE_URL }));

export type Env = z.infer<typeof envSchema>;

/** Parse an env-like record; throws with every offending variable named. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join("\n")}`);
  }
  return result.data;
}

let cached: Env | undefined;
/** The process env, parsed once; exits with the variable's name on a bad value. */
export function env(): Env {
  if (cached) return cached;
  try {
    cached = parseEnv(process.env);
  } catch (err) {
    console.error(`hotpath: ${(err as Error).message}`);
    process.exit(1);
  }
  return cached;
}
