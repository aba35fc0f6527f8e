import Redis, { Cluster, type RedisOptions } from "ioredis";
import { GEN_TTL_MS, type CacheStore } from "./store";

// KEYS[1] = entry, KEYS[2] = its generation counter (same hash slot by construction).
const FILL = `
local g = redis.call('GET', KEYS[2])
if (g == false and ARGV[1] == '') or g == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
const EVICT = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`;

interface Scripts {
  hpFill(entry: string, gen: string, seen: string, value: string, ttlMs: number): Promise<number>;
  hpEvict(entry: string, gen: string, genTtlMs: number): Promise<number>;
}
type Client = (Redis | Cluster) & Scripts;

export interface RedisStoreOptions {
  url?: string;
  clusterNodes?: string[];
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  onError?: (err: Error) => void;
}

export function createRedisStore(opts: RedisStoreOptions): CacheStore & { client: Redis | Cluster } {
  const base: RedisOptions = {
    // Fail fast instead of queueing behind a dead connection: the caller falls back to Postgres.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: opts.connectTimeoutMs,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
  };
  const client = (
    opts.clusterNodes?.length
      ? new Cluster(opts.clusterNodes, { enableAutoPipelining: true, enableOfflineQueue: false, redisOptions: base })
      : new Redis(opts.url ?? "redis://127.0.0.1:6379", base)
  ) as Client;
  // Without a listener ioredis logs every reconnect failure as an unhandled error event.
  client.on("error", (err: Error) => opts.onError?.(err));
  client.defineCommand("hpFill", { numberOfKeys: 2, lua: FILL });
  client.defineCommand("hpEvict", { numberOfKeys: 2, lua: EVICT });

  // Evictions that failed while Redis was unreachable are replayed once it is back, so a write
  // made during an outage does not leave a pre-outage value cached until its TTL runs out.
  const pending = new Set<string>();
  const evictOne = (key: string) => client.hpEvict(key, `${key}:gen`, GEN_TTL_MS);
  // Replayed on reconnect and before the next read (a pause or timeout does not reconnect).
  const flushPending = async () => {
    const keys = [...pending];
    pending.clear();
    const results = await Promise.allSettled(keys.map(evictOne));
    results.forEach((r, i) => r.status === "rejected" && pending.add(keys[i]!));
    if (pending.size) throw new Error("cache eviction replay failed");
  };
  client.on("ready", () => void flushPending().catch(() => {}));

  return {
    kind: opts.clusterNodes?.length ? "redis-cluster" : "redis",
    client,
    async read(key) {
      if (pending.size) await flushPending();
      // One round trip: the entry and its counter share a hash slot, so MGET works on a cluster.
      const [value, gen] = await client.mget(key, `${key}:gen`);
      return { value: value ?? null, gen: gen ?? "" };
    },
    async fill(key, gen, value, ttlMs) {
      return (await client.hpFill(key, `${key}:gen`, gen, value, Math.max(1, Math.round(ttlMs)))) === 1;
    },
    async evict(keys) {
      const results = await Promise.allSettled(keys.map(evictOne));
      const failed = keys.filter((_, i) => results[i]!.status === "rejected");
      if (failed.length) {
        for (const key of failed) pending.add(key);
        throw (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
      }
    },
    async ping() {
      await client.ping();
    },
    ready(timeoutMs) {
      if (client.status === "ready") return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          client.off("ready", onReady);
          resolve(ok);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        client.once("ready", onReady);
      });
    },
    async close() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
