import { z } from "zod";
import { badProxyEntry } from "./lib/client-address";
import { ENCODINGS, type Encoding } from "./lib/encoding";

// Every knob in one place, parsed once. A bad value stops the process with the variable's name
// rather than surfacing later as a confusing runtime error. Nothing else in src/ reads
// process.env (test/layers.test.ts checks).

/** The spellings every yes/no variable accepts, whatever its type (boolean, or on/off). */
export const BOOL_SPELLINGS = { true: ["true", "1", "yes", "on"], false: ["false", "0", "no", "off"] } as const;
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum([...BOOL_SPELLINGS.true, ...BOOL_SPELLINGS.false]))
  .transform((v) => (BOOL_SPELLINGS.true as readonly string[]).includes(v));
/** A yes/no switch kept as "on" | "off" (the code reads `=== "on"`), with the same spellings. */
const onOff = (def: "on" | "off") => bool.transform((b): "on" | "off" => (b ? "on" : "off")).default(def);
/** A shared secret a client presents (Bearer): short ones are guessable. */
export const MIN_TOKEN_LENGTH = 16;
const token = z.string().min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`).optional();

/** The data classes an instance may keep in its L1 (README "Cache tiers"; src/cache/cache-aside.ts). */
export const L1_CLASSES = ["profiles", "flags", "user_stats", "global_stats", "documents"] as const;
export type L1Class = (typeof L1_CLASSES)[number];
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .pipe(z.string().url().optional())
  .optional();

/** Why `entry` is not an origin as browsers send it in `Origin` (scheme://host[:port]), or undefined. */
function notAnOrigin(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return `"${entry}" is not an origin (scheme://host[:port], e.g. https://app.example.com)`;
  }
  if (url.origin === entry) return undefined;
  // Matching is exact against the browser's Origin header, so a path, a trailing slash, upper
  // case or a default port would silently never match: refuse them instead.
  const hint = url.origin === "null" ? "" : `; did you mean ${url.origin}?`;
  return `"${entry}" is not an origin (scheme://host[:port], no path)${hint}`;
}

// "*" (reads from anywhere) or a list of exact origins; see src/middleware/cors.ts.
const corsOrigins = z
  .string()
  .transform((value, ctx): "*" | string[] => {
    const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
    if (entries.length === 1 && entries[0] === "*") return "*";
    if (entries.length === 0) ctx.addIssue({ code: "custom", message: "expected * or a comma-separated list of origins" });
    for (const e of entries) {
      const problem = e === "*" ? "* cannot be combined with origins" : notAnOrigin(e);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }
    return entries;
  })
  .optional();

// "class:ttlMs,…" → { class: ttlMs }; see L1_CLASSES. Empty: L1 keeps nothing.
const encodingList = (def: string) => z.string().default(def).transform((value, ctx): Encoding[] => {
  const out: Encoding[] = [];
  // An empty variable counts as unset (parseEnv), so "none" says none.
  if (value.trim().toLowerCase() === "none") return out;
  for (const e of value.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (!(ENCODINGS as readonly string[]).includes(e)) {
      ctx.addIssue({ code: "custom", message: `"${e}": expected a comma-separated list of ${ENCODINGS.join(", ")}` });
      continue;
    }
    if (!out.includes(e as Encoding)) out.push(e as Encoding);
  }
  return out;
});
const l1Classes = (def: string) => z.string().default(def).transform((value, ctx) => {
  const out: Partial<Record<L1Class, number>> = {};
  for (const entry of value.split(",").map((e) => e.trim()).filter(Boolean)) {
    const [cls, ms] = entry.split(":");
    const ttl = Number(ms);
    if (!(L1_CLASSES as readonly string[]).includes(cls!) || !Number.isInteger(ttl) || ttl < 1) {
      ctx.addIssue({ code: "custom", message: `"${entry}": expected class:ttlMs with class one of ${L1_CLASSES.join(", ")} and ttlMs ≥ 1` });
      continue;
    }
    out[cls as L1Class] = ttl;
  }
  return out;
});

/** Bun.serve's largest idleTimeout (seconds); 0 disables it. */
export const MAX_IDLE_TIMEOUT_S = 255;
/**
 * How much longer than the request timeout a connection may stay silent. Bun checks idle
 * timeouts on a 4 s tick (idleTimeout 5, 6 and 7 all closed a silent connection at 8 s here),
 * so 5 s covers the tick plus the time to write the 504.
 */
export const IDLE_MARGIN_S = 5;
/** The smallest idle timeout that still lets the app's own 504 reach the client. */
export const minIdleTimeoutS = (requestTimeoutMs: number) => Math.ceil(requestTimeoutMs / 1000) + IDLE_MARGIN_S;

// Comma-separated postgres:// URLs of streaming replicas (README "Read replicas").
const replicaUrls = z
  .string()
  .transform((value, ctx): string[] => {
    const urls = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
    for (const u of urls) {
      let ok = false;
      try {
        ok = ["postgres:", "postgresql:"].includes(new URL(u).protocol);
      } catch {}
      if (!ok) ctx.addIssue({ code: "custom", message: `"${u.replace(/\/\/[^@/]*@/, "//***@")}" is not a postgres:// URL` });
    }
    return urls;
  })
  .optional();

// IPs and CIDR ranges whose X-Forwarded-For names the client (src/lib/client-address.ts). Unset: nobody.
const trustedProxyList = z
  .string()
  .default("")
  .transform((value, ctx): string[] => {
    const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
    for (const e of entries) {
      const problem = badProxyEntry(e);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }
    return entries;
  });

// "auto" = one server process per core (os.availableParallelism()), or a count.
const workers = z
  .union([z.literal("auto"), z.coerce.number().int().min(1).max(256)])
  .default(1);

const fields = {
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().default("0.0.0.0"),
  PORT: int(3000, 0, 65535),
  // Server processes sharing PORT (Bun.serve reusePort; README "All cores").
  WORKERS: workers,

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
  // The longest a statement waits for a connection before the request gets a 503 pool_exhausted.
  DB_ACQUIRE_TIMEOUT_MS: int(1000, 1),
  // Connections (out of DB_POOL_MAX) kept for point statements (profile and flag reads,
  // Idempotency-Key records), so a slow or locked documents table cannot take the whole pool
  // (src/db/pool-queue.ts). Capped at DB_POOL_MAX - 1.
  DB_POOL_RESERVED: int(1, 0),
  // Statements admitted per connection at once (postgres.js pipelines them): the throughput of
  // short queries on few cores, and how many a connection stuck on a lock takes with it.
  DB_PIPELINE_DEPTH: int(8, 1, 100),
  // Reads that may lag go to these (README "Read replicas"); needs DATABASE_URL.
  DATABASE_REPLICA_URLS: replicaUrls,
  // How often each replica's replay position and health are polled.
  DB_REPLICA_CHECK_MS: int(200, 10, 60_000),
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
  // On this process' first connection to Redis and after Redis restarted, cached entries get at
  // most this TTL: what a crashed instance's undelivered evictions or an old snapshot can cost.
  CACHE_RECOVERY_TTL_S: int(5, 0),

  // TTLs in seconds = the staleness each kind of data may show to readers.
  CACHE_TTL_USER_S: int(300, 1),
  CACHE_TTL_USER_STATS_S: int(60, 1),
  CACHE_TTL_DOCUMENT_S: int(60, 1),
  CACHE_TTL_GLOBAL_STATS_S: int(30, 1),
  CACHE_TTL_FLAGS_S: int(60, 1),
  CACHE_TTL_NEGATIVE_S: int(10, 1),
  CACHE_TTL_JITTER_PCT: int(10, 0, 50),
  // Past its TTL an entry is served stale (one background refresh per key), and while Postgres
  // fails, for up to this long (README "Grace"). 0: off, entries expire at their TTL.
  CACHE_GRACE_S: int(0, 0, 86_400),
  // L1: an in-process LRU in front of Redis (README "Cache tiers"). Ignored without Redis.
  CACHE_L1: onOff("off"),
  // Which data classes L1 keeps, each with its TTL in ms (the staleness L1 may add while the
  // invalidation bus is slow; a write is announced to every instance at once).
  CACHE_L1_CLASSES: l1Classes("profiles:2000,flags:2000,user_stats:1000,global_stats:1000"),
  CACHE_L1_MAX_ENTRIES: int(10_000, 1),

  // off: no Server-Timing, no per-request accounting or telemetry (the benchmark's baseline).
  INSTRUMENTATION: onOff("on"),
  TIMING_ALLOW_ORIGIN: z.string().optional(),
  CORS_ORIGINS: corsOrigins,
  CORS_MAX_AGE_S: int(600, 0, 86_400),
  BODY_LIMIT_BYTES: int(1024 * 1024, 1),
  // Response bodies below this many bytes are sent uncompressed (they cost more than they save).
  COMPRESS_MIN_BYTES: int(1024, 0),
  // Memory for compressed bodies kept by ETag, so a repeated read is not compressed again; 0 = off.
  COMPRESS_MEMO_BYTES: int(8 * 1024 * 1024, 0),
  // Codings stored in each cache entry beside its JSON, made once at fill (README "Compression");
  // "none": no bytes stored (hits are then compressed per response, or taken from the memo).
  COMPRESS_CACHE_ENCODINGS: encodingList("br,gzip"),
  // The server's idle timeout must outlast the request timeout, or the connection is closed before
  // the 504 is written: see serverIdleTimeoutS(). Bun caps idleTimeout at 255 s.
  REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1)
    .max((MAX_IDLE_TIMEOUT_S - IDLE_MARGIN_S) * 1000, `at most ${(MAX_IDLE_TIMEOUT_S - IDLE_MARGIN_S) * 1000}: the server's idle timeout (Bun's max ${MAX_IDLE_TIMEOUT_S} s) must outlast it`)
    .default(15_000),
  SERVER_IDLE_TIMEOUT_S: z.coerce.number().int().min(0).max(MAX_IDLE_TIMEOUT_S).optional(),
  // SIGTERM: /readyz 503 and Connection: close for SHUTDOWN_DRAIN_S, then stop accepting and give
  // in-flight requests SHUTDOWN_TIMEOUT_S. 3 + 5 stays inside docker stop's 10 s before SIGKILL.
  SHUTDOWN_DRAIN_S: int(3, 0, 600),
  SHUTDOWN_TIMEOUT_S: int(5, 0),

  // Traces over OTLP/HTTP (README "Traces"): the standard OpenTelemetry variables. No endpoint = off.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
  OTEL_EXPORTER_OTLP_TIMEOUT: int(10_000, 1),
  OTEL_SERVICE_NAME: z.string().min(1).default("hotpath"),
  OTEL_TRACES_SAMPLER: z
    .enum(["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"])
    .default("parentbased_always_on"),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  OTEL_BSP_MAX_QUEUE_SIZE: int(2048, 1),
  OTEL_BSP_SCHEDULE_DELAY: int(5000, 0),

  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  SLOW_QUERY_MS: int(50, 0),
  DEBUG_TOKEN: token,
  METRICS_TOKEN: token,
  // Unset: /metrics needs METRICS_TOKEN or an admin JWT. true: open to anyone who can reach it.
  METRICS_PUBLIC: bool.default(false),

  // Authentication (README "Authentication"). off: every write is accepted (trusted network only).
  AUTH: onOff("on"),
  JWT_SECRET: z
    .string()
    .refine((s) => Buffer.byteLength(s, "utf8") >= 32, "must be at least 32 bytes (HS256 key)")
    .optional(),
  JWT_JWKS_URL: optionalUrl,
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_SKEW_S: int(30, 0, 300),
  // Where the embedded default keeps its generated secret; default: next to PGLITE_DIR.
  JWT_SECRET_FILE: z.string().min(1).optional(),

  // Abuse limits (README "Limits"); 0 turns a limit off.
  RATE_LIMIT_WRITES: int(120, 0),
  RATE_LIMIT_WRITES_WINDOW_S: int(60, 1),
  RATE_LIMIT_AUTH_FAILURES: int(20, 0),
  RATE_LIMIT_AUTH_FAILURES_WINDOW_S: int(300, 1),
  // Behind a load balancer or reverse proxy: the client address comes from its X-Forwarded-For.
  TRUSTED_PROXIES: trustedProxyList,

  // Command-line tools (src/scripts/).
  // `bun run explain`: a table over this many estimated rows is "large" (a scan of it fails).
  EXPLAIN_LARGE_ROWS: int(10_000, 0),
  // `bun run top`: the service to read /debug/routes from.
  HOTPATH_URL: z.string().url().default("http://127.0.0.1:3000"),
  // Set by the supervisor (src/workers/supervisor.ts) in each worker it starts: the worker's index.
  HOTPATH_WORKER: z.string().regex(/^[0-9]+$/).optional(),
};

export const envSchema = z
  .object(fields)
  .superRefine((e, ctx) => {
    if (e.JWT_SECRET && e.JWT_JWKS_URL) {
      ctx.addIssue({ code: "custom", path: ["JWT_JWKS_URL"], message: "set JWT_SECRET or JWT_JWKS_URL, not both" });
    }
    // A real database in production with no key would mean either open writes or a secret nobody
    // can mint tokens for: refuse, unless the operator says AUTH=off on purpose.
    if (e.NODE_ENV === "production" && e.DATABASE_URL && e.AUTH === "on" && !e.JWT_SECRET && !e.JWT_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET"],
        message: "required with DATABASE_URL in production (or JWT_JWKS_URL; AUTH=off only on a trusted network)",
      });
    }
    if (e.DATABASE_REPLICA_URLS?.length && !e.DATABASE_URL) {
      ctx.addIssue({ code: "custom", path: ["DATABASE_REPLICA_URLS"], message: "needs DATABASE_URL (the primary)" });
    }
    // Several processes: an embedded PGlite per process over one folder would corrupt it, and an
    // in-process cache per process would never see the other processes' evictions.
    if (e.WORKERS !== 1 && (!e.DATABASE_URL || !(e.REDIS_URL || e.REDIS_CLUSTER_NODES))) {
      ctx.addIssue({ code: "custom", path: ["WORKERS"], message: "more than one worker needs DATABASE_URL and REDIS_URL (or REDIS_CLUSTER_NODES)" });
    }
    const min = minIdleTimeoutS(e.REQUEST_TIMEOUT_MS);
    if (e.SERVER_IDLE_TIMEOUT_S !== undefined && e.SERVER_IDLE_TIMEOUT_S !== 0 && e.SERVER_IDLE_TIMEOUT_S < min) {
      ctx.addIssue({
        code: "custom",
        path: ["SERVER_IDLE_TIMEOUT_S"],
        message: `must be 0 (off) or at least ${min} s with REQUEST_TIMEOUT_MS=${e.REQUEST_TIMEOUT_MS}: a shorter idle timeout closes the connection before the 504 is sent`,
      });
    }
  })
  // Unset: derived from the request timeout, so the two can never contradict.
  // Demo data only for the embedded default unless asked for.
  .transform((e) => ({
    ...e,
    SERVER_IDLE_TIMEOUT_S: e.SERVER_IDLE_TIMEOUT_S ?? minIdleTimeoutS(e.REQUEST_TIMEOUT_MS),
    DB_SEED_DEMO: e.DB_SEED_DEMO ?? !e.DATABASE_URL,
  }));

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

function parseOrExit(source: Record<string, string | undefined>): Env {
  try {
    return parseEnv(source);
  } catch (err) {
    console.error(`hotpath: ${(err as Error).message}`);
    process.exit(1);
  }
}

let cached: Env | undefined;
/** The process env, parsed once; exits with the variable's name on a bad value. */
export function env(): Env {
  return (cached ??= parseOrExit(process.env));
}

/**
 * The env of a command that serves no request (`migrate`, `db:seed`): `defaults` stand in for
 * variables left unset or empty. AUTH=off there: the production rule that a key be configured is
 * for serving, so a release pipeline can migrate with DATABASE_URL alone.
 */
export function commandEnv(defaults: Record<string, string>): Env {
  const source: Record<string, string | undefined> = { ...process.env };
  for (const [name, value] of Object.entries(defaults)) source[name] ||= value;
  return parseOrExit(source);
}

/** The environment a child process of this one (a worker) starts with: this one's plus `extra`. */
export const childEnv = (extra: Record<string, string>): Record<string, string | undefined> => ({ ...process.env, ...extra });
