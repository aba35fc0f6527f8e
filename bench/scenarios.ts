import Redis from "ioredis";
import { flushPrefix as flushKeys } from "../src/cache/flush";
import { serializeEntry } from "../src/cache/entry";
import { parseEnv } from "../src/env";
import { precompressor } from "../src/lib/encoding";
import { BENCH_JWT_SECRET } from "./auth";
import { dbUrl, REDIS_URL, type Options } from "./config";
import { settleNaive } from "./db";
import { interleave, type Measured, type Participant } from "./interleave";
import { writeSpec } from "./load";
import { startServer, type Server } from "./servers";
import { specFor, type Workload } from "./workload";
import { ENDPOINTS, type Endpoint, type Kind } from "./zipf";

// What runs against what. Cells are keyed "<server>/<endpoint>"; rounds append samples.
export type Cells = Record<string, Measured>;

/** The service's own default pool size (src/env.ts): the "after" and the postgres.js limit server use it. */
export const DEFAULT_POOL = parseEnv({}).DB_POOL_MAX;

export async function flushPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    await flushKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export function serviceEnv(o: Options, extra: Record<string, string> = {}): Record<string, string> {
  const p = o.profile;
  return {
    DATABASE_URL: dbUrl(p.db),
    REDIS_URL,
    REDIS_KEY_PREFIX: p.redisPrefix,
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
    DB_SEED_DEMO: "false",
    DB_POOL_MAX: String(DEFAULT_POOL),
    // Interleaved windows leave a server idle for up to ~30 s; steady production traffic would
    // not let its pool's connections idle out, so neither may the benchmark's pauses.
    DB_IDLE_TIMEOUT_S: "600",
    JWT_SECRET: BENCH_JWT_SECRET,
    // One admin subject writes thousands of times a second here: the per-subject limit would
    // answer 429 to most of it (its cost is measured on its own, see the auth cell).
    RATE_LIMIT_WRITES: "0",
    ...extra,
  };
}

export const service = (o: Options, name: string, extra: Record<string, string> = {}) =>
  startServer(name, ["bun", "run", "src/index.ts"], serviceEnv(o, extra), "/readyz");

export type Say = (s: string) => void;

export async function merge(cells: Cells, endpoint: string, got: Record<string, Measured>) {
  for (const [key, m] of Object.entries(got)) {
    const cell = (cells[`${key}/${endpoint}`] ??= { warmup: [], windowS: m.windowS, samples: [] });
    cell.warmup.push(...m.warmup);
    cell.samples.push(...m.samples);
  }
}

/** Starts the service once per [name, extra env], each listed in `servers` (stopped by the caller). */
export async function services(o: Options, servers: Server[], list: [string, Record<string, string>][]): Promise<Server[]> {
  const started: Server[] = [];
  for (const [name, extra] of list) {
    const s = await service(o, name, extra);
    servers.push(s);
    started.push(s);
  }
  return started;
}

/** Each endpoint in turn, the given servers interleaved window by window on the same requests. */
export async function compareOn(
  o: Options,
  w: Workload,
  cells: Cells,
  say: Say,
  label: string,
  endpoints: readonly (Endpoint | Kind)[],
  servers: [string, Server][],
  windows = o.profile.windows,
) {
  for (const e of endpoints) {
    const spec = await writeSpec(`${label}-${e}`, specFor(o.profile, w, e, "keyset"));
    const parts = servers.map(([key, server]): Participant => ({ key, server, specBase: spec }));
    await merge(cells, e, await interleave(o.profile, parts, windows, (s) => say(`${label} ${e} · ${s}`)));
  }
}

/** before vs after (all endpoints) and after vs the limit servers, interleaved per endpoint. */
export async function mainPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  const p = o.profile;
  const withBefore = o.only.has("before");
  const withLimits = o.only.has("limits");
  const start = async (name: string, cmd: string[], env: Record<string, string>, ready = "/healthz") => {
    const s = await startServer(name, cmd, env, ready);
    servers.push(s);
    return s;
  };
  say("starting servers");
  const after = await service(o, "after");
  servers.push(after);
  const naive = withBefore ? await start("before", ["bun", "run", "bench/naive/server.ts"], { DATABASE_URL: dbUrl(p.naiveDb) }) : undefined;
  const limitEnv = serviceEnv(o);
  const redis = withLimits ? await start("limit-redis", ["bun", "run", "bench/limits/redis.ts"], { ...limitEnv, REDIS_KEY_PREFIX: rawPrefix(o) }) : undefined;
  const pg = withLimits ? await start("limit-pg", ["bun", "run", "bench/limits/postgres.ts"], limitEnv) : undefined;
  const fixed = withLimits ? await start("limit-fixed", ["bun", "run", "bench/limits/fixed.ts"], {}) : undefined;
  for (const e of ENDPOINTS) {
    const part = async (key: string, server: Server, kind: Endpoint | "fixed", target: "naive" | "keyset"): Promise<Participant> => ({
      key,
      server,
      specBase: await writeSpec(`${key}-${e}`, specFor(p, w, kind, target)),
      ...(target === "naive" ? { settle: () => settleNaive(p.naiveDb, server.url), slow: true } : {}),
    });
    const parts = [await part("after", after, e, "keyset")];
    if (redis && fixed && e === "profile") parts.push(await part("limit-redis", redis, e, "keyset"), await part("limit-fixed", fixed, "fixed", "keyset"));
    if (pg && (e === "first" || e === "next")) parts.push(await part("limit-pg", pg, e, "keyset"));
    if (naive) parts.push(await part("before", naive, e, "naive"));
    await merge(cells, e, await interleave(p, parts, p.windows, (s) => say(`${e} · ${s}`)));
  }
}

/** The instrumentation cell's servers: what each adds to the one before it. */
export const INSTRUMENTATION_SERVERS: [string, Record<string, string>][] = [
  // Nothing observed: no Server-Timing, accounting, route table, metrics or request log.
  ["instr-off", { INSTRUMENTATION: "off" }],
  // INSTRUMENTATION=on (the default) with LOG_LEVEL=warn, as in every other cell: no request log.
  ["instr-on", {}],
  // The production defaults: the same with LOG_LEVEL=info, one request line per request on stdout
  // (a file, see servers.ts).
  ["instr-log", { LOG_LEVEL: "info" }],
];

/**
 * What observing a request costs, on the cached profile read (the least work per request, so the
 * largest share of it is instrumentation): INSTRUMENTATION=off, on, and on with the request log
 * (LOG_LEVEL=info), interleaved on the same requests. Three servers only, so more (cheap)
 * windows: the differences sought are a few µs per request.
 */
export async function instrumentationPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  say("starting servers");
  const started = await services(o, servers, INSTRUMENTATION_SERVERS);
  const parts = INSTRUMENTATION_SERVERS.map(([key], i): [string, Server] => [key, started[i]!]);
  await compareOn(o, w, cells, say, "instrumentation", ["profile"], parts, o.profile.windows + 2);
}

/** The sampling ratios of the tracing cell: every request traced, and 1 % of them. */
export const TRACE_RATIOS = ["1", "0.01"] as const;

/**
 * What OpenTelemetry tracing costs on the cached profile read (a server span and a cache span per
 * traced request): instrumentation on without an endpoint ("trace-off", the default) vs the same
 * with OTEL_EXPORTER_OTLP_ENDPOINT set, sampling ratio 1.0 and 0.01 (parentbased_traceidratio),
 * exporting to a local OTLP/HTTP sink (bench/otlp-sink.ts) with the default batch settings.
 */
export async function tracingPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  say("starting servers");
  const sink = await startServer("otlp-sink", ["bun", "run", "bench/otlp-sink.ts"], {});
  servers.push(sink);
  const off = await service(o, "trace-off");
  servers.push(off);
  const traced: Server[] = [];
  for (const ratio of TRACE_RATIOS) {
    const s = await service(o, `trace-${ratio}`, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: ratio,
    });
    servers.push(s);
    traced.push(s);
  }
  for (const e of ["profile"] as const) {
    const spec = await writeSpec(`trace-${e}`, specFor(o.profile, w, e, "keyset"));
    const parts: Participant[] = [
      { key: "trace-off", server: off, specBase: spec },
      ...traced.map((server, i): Participant => ({ key: `trace-${TRACE_RATIOS[i]}`, server, specBase: spec })),
    ];
    await merge(cells, e, await interleave(o.profile, parts, o.profile.windows, (s) => say(`tracing ${e} · ${s}`)));
  }
}

/** What verifying a bearer token costs: a write and a cached read, auth on (the default) vs AUTH=off. */
export const AUTH_ENDPOINTS = ["patchDoc", "profile"] as const;

/**
 * Two servers on the same data: "auth-on" verifies the HS256 token of every write and runs both
 * abuse limits (the per-subject write limit set too high to refuse, so its Redis round trip is
 * paid but no write is turned away); "auth-off" is AUTH=off. Both receive the same requests,
 * token included. Reads never look at the token, so the read cell should come out at ~1.
 */
export async function authPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  say("starting servers");
  const [on, off] = await services(o, servers, [["auth-on", { RATE_LIMIT_WRITES: "1000000000" }], ["auth-off", { AUTH: "off" }]]);
  await compareOn(o, w, cells, say, "auth", AUTH_ENDPOINTS, [["auth-on", on!], ["auth-off", off!]]);
}

/**
 * Compression: the 100-item list page (never cached), the cached profile read (under the
 * threshold) and the cached document read (its compressed bytes stored in the entry).
 */
export const COMPRESSION_ENDPOINTS = ["list100", "profile", "doc"] as const;
/**
 * The phase's COMPRESS_MIN_BYTES: the seeded documents are ~250–500 B of JSON, under the default
 * 1 024, so the cached document read is only compressed below it; the profile (~130 B) stays under.
 */
export const COMPRESSION_MIN_BYTES = 200;
/** What the compressed participant sends; the other sends no Accept-Encoding at all. */
export const COMPRESSION_ACCEPT = "br, gzip";

/**
 * Interleaved window by window: "compress-none" sends no Accept-Encoding (identity, as before),
 * "compress-br-gzip" sends `Accept-Encoding: br, gzip` (brotli is chosen) to the same server
 * process, so the difference is the negotiation, the stored or memoized compressed bodies and the
 * bytes written; "compress-nomemo" sends the same to a second server with COMPRESS_MEMO_BYTES=0
 * and COMPRESS_CACHE_ENCODINGS=none, where every compressed response runs the encoder.
 * Once per run, `memory` gets what the stored bytes cost in Redis (cacheMemory).
 */
export async function compressionPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[], memory: CacheMemory[] = []) {
  say("starting servers");
  const min = { COMPRESS_MIN_BYTES: String(COMPRESSION_MIN_BYTES) };
  const s = await service(o, "compress", min);
  servers.push(s);
  // Its own prefix: entries filled by the other server carry stored bytes it would send as they are.
  const nomemo = await service(o, "compress-nomemo", { ...min, COMPRESS_MEMO_BYTES: "0", COMPRESS_CACHE_ENCODINGS: "none", REDIS_KEY_PREFIX: nomemoPrefix(o) });
  servers.push(nomemo);
  if (!memory.length) memory.push(...(await cacheMemory(o, s, w)));
  for (const e of COMPRESSION_ENDPOINTS) {
    const plain = await writeSpec(`compress-none-${e}`, specFor(o.profile, w, e, "keyset"));
    const compressed = await writeSpec(`compress-br-gzip-${e}`, { ...specFor(o.profile, w, e, "keyset"), headers: [`Accept-Encoding: ${COMPRESSION_ACCEPT}`] });
    const parts: Participant[] = [
      { key: "compress-none", server: s, specBase: plain },
      { key: "compress-br-gzip", server: s, specBase: compressed },
      { key: "compress-nomemo", server: nomemo, specBase: compressed },
    ];
    await merge(cells, e, await interleave(o.profile, parts, o.profile.windows + 1, (m) => say(`compression ${e} · ${m}`)));
  }
}

/** One body's cache entry in Redis, without and with its stored compressed representations. */
export interface CacheMemory {
  body: string;
  jsonBytes: number;
  /** Stored codings and their sizes ({} under the threshold: nothing stored). */
  coded: Record<string, number>;
  /** MEMORY USAGE of the entry as JSON only, and as stored (JSON + coded). */
  jsonOnly: number;
  stored: number;
}

/**
 * MEMORY USAGE of real bodies as cache entries: a profile, a seeded document and a 100-item page
 * (~14 KB, as a large document would be), each set under a scratch key twice — JSON only, then as
 * the service stores it — and measured by Redis itself (allocator overhead included).
 */
async function cacheMemory(o: Options, s: Server, w: Workload): Promise<CacheMemory[]> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const scratch = `${o.profile.redisPrefix}:memory-probe`;
  const precompress = precompressor(COMPRESSION_MIN_BYTES);
  const usage = async (value: Buffer) => {
    await redis.set(scratch, value, "PX", 60_000);
    return Number(await redis.call("MEMORY", "USAGE", scratch, "SAMPLES", "0"));
  };
  try {
    const out: CacheMemory[] = [];
    const bodies: [string, string][] = [
      ["profile (GET /users/1)", "/users/1"],
      ["document (GET /documents/1)", "/documents/1"],
      ["100-item page as one entry", `/users/${w.deepUsers[0] ?? 1}/documents?limit=100`],
    ];
    for (const [body, path] of bodies) {
      const json = await (await fetch(`${s.url}${path}`)).text();
      const coded = precompress(json);
      const freshUntil = Date.now() + 60_000;
      out.push({
        body,
        jsonBytes: Buffer.byteLength(json),
        coded: Object.fromEntries(Object.entries(coded ?? {}).map(([k, v]) => [k, v.byteLength])),
        jsonOnly: await usage(serializeEntry({ freshUntil, json })),
        stored: await usage(serializeEntry({ freshUntil, json, coded })),
      });
    }
    return out;
  } finally {
    await redis.del(scratch).catch(() => {});
    redis.disconnect();
  }
}

/**
 * The raw ioredis server's own keys: it stores plain JSON where the service stores its entry
 * format (fresh-until|json), so sharing keys would turn the service's hits into misses.
 */
export const rawPrefix = (o: Options) => `${o.profile.redisPrefix}-raw`;

/** The compression phase's server that stores no compressed bytes keeps its own entries. */
export const nomemoPrefix = (o: Options) => `${o.profile.redisPrefix}-nomemo`;

export const POOL_ENDPOINTS = ["first", "doc-cold"] as const;

export const poolPrefix = (o: Options, n: number) => `${o.profile.redisPrefix}-p${n}`;

/**
 * DB_POOL_MAX sweep on the two endpoints whose time is Postgres time: the first list page (never
 * cached) and GET /documents/:id with uniformly random ids over all documents (cold: almost every
 * request misses, so each one is the join query + Redis read + fill). One server per size, each
 * with its own Redis prefix so they never share cache entries; windows rotate through the sizes.
 */
export async function poolPhase(o: Options, w: Workload, cells: Cells, say: Say, servers: Server[]) {
  const p = o.profile;
  say("starting servers");
  const pools: Server[] = [];
  for (const n of p.poolSizes) {
    await flushPrefix(poolPrefix(o, n));
    const s = await service(o, `pool-${n}`, { DB_POOL_MAX: String(n), REDIS_KEY_PREFIX: poolPrefix(o, n) });
    servers.push(s);
    pools.push(s);
  }
  for (const e of POOL_ENDPOINTS) {
    const spec = await writeSpec(`pool-${e}`, specFor(p, w, e === "doc-cold" ? "doc" : e, "keyset", { uniformDocs: e === "doc-cold" }));
    const parts = pools.map((server, i): Participant => ({ key: `pool-${p.poolSizes[i]}`, server, specBase: spec }));
    await merge(cells, e, await interleave(p, parts, p.sweepWindows, (s) => say(`pool sweep ${e} · ${s}`)));
  }
  for (const s of pools) await s.stop();
}
