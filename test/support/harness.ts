import Redis from "ioredis";
import { createApp } from "../../src/app";
import { flushPrefix } from "../../src/cache/flush";
import type { Env } from "../../src/env";
import { createServices, type Services } from "../../src/services";
import { freshDatabase, REDIS_URL, testEnv } from "./env";
import { requester, type RequestOptions } from "./http";

/** Response whose json() is `any`, so tests can assert on bodies without casts. */
export interface TestResponse extends Response {
  json(): Promise<any>;
}

export interface Harness {
  app: ReturnType<typeof createApp>;
  services: Services;
  env: Env;
  dbUrl: string;
  prefix: string;
  /** Plain Redis client for assertions and cleanup. */
  redis: Redis;
  request(path: string, init?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

/**
 * One file = one database (hp_test_<file>) + one Redis key prefix (hpt-<file>). Everything is
 * real: migrations run, the cache talks to Redis unless `redis: false` picks the memory store.
 */
export async function harness(
  file: string,
  opts: { redis?: boolean | string; env?: Partial<Record<keyof Env, string>> } = {},
): Promise<Harness> {
  const { url } = await freshDatabase(file);
  const prefix = `hpt-${file.replace(/[^a-z0-9_-]/gi, "-").toLowerCase()}`.slice(0, 32);
  const redisUrl = opts.redis === false ? undefined : typeof opts.redis === "string" ? opts.redis : REDIS_URL;
  const env = testEnv({ DATABASE_URL: url, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...opts.env });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  await redis.connect();
  await flushPrefix(redis, prefix);
  const services = await createServices(env);
  const app = createApp(services);
  return {
    app,
    services,
    env,
    dbUrl: url,
    prefix,
    redis,
    request: requester(app),
    async close() {
      await services.close();
      await flushPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export { flushPrefix };

export interface TimingEntry {
  name: string;
  dur?: number;
  desc?: string;
}

/** Parses a Server-Timing header into entries keyed by name. */
export function serverTiming(res: { headers: Headers }): Record<string, TimingEntry> {
  const header = res.headers.get("server-timing") ?? "";
  const out: Record<string, TimingEntry> = {};
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (!name) continue;
    const e: TimingEntry = { name };
    for (const p of params) {
      const [k, v = ""] = p.split("=");
      if (k === "dur") e.dur = Number(v);
      if (k === "desc") e.desc = v.replace(/^"|"$/g, "");
    }
    out[name] = e;
  }
  return out;
}

/** Query count from the db entry ("3 queries"). */
export const queryCount = (res: { headers: Headers }): number => Number(serverTiming(res).db?.desc?.split(" ")[0]);
export const cacheDesc = (res: { headers: Headers }): string | undefined => serverTiming(res).cache?.desc;
