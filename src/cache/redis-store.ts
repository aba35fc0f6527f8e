import Redis, { Cluster, type RedisOptions } from "ioredis";
import { parseEntry, serializeEntry } from "./entry";
import { GEN_SUFFIX, GEN_TTL_MS, type CacheStore } from "./store";

// KEYS[1] = entry, KEYS[2] = its generation counter (same hash slot by construction).
const FILL = `
local g = redis.call('GET', KEYS[2])
if (g == false and ARGV[1] == '') or g == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
// ARGV[2]: the invalidation channel (bus.ts). Publishing inside the script costs no extra round
// trip, and an eviction replayed after an outage is announced to every instance's L1 as well.
const EVICT = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local n = redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
return n`;

interface Scripts {
  hpFill(entry: string, gen: string, seen: string, value: Buffer, ttlMs: number): Promise<number>;
  hpEvict(entry: string, gen: string, genTtlMs: number, channel: string): Promise<number>;
}
type Client = (Redis | Cluster) & Scripts;

export interface RedisStoreOptions {
  url?: string;
  clusterNodes?: string[];
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Where evictions are published for the instances' L1 (bus.ts); unset: not published. */
  channel?: string;
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
  const isCluster = Boolean(opts.clusterNodes?.length);
  const client = (
    isCluster
      ? new Cluster(opts.clusterNodes!, { enableAutoPipelining: true, enableOfflineQueue: false, redisOptions: base })
      : new Redis(opts.url ?? "redis://127.0.0.1:6379", base)
  ) as Client;
  // Without a listener ioredis logs every reconnect failure as an unhandled error event.
  client.on("error", (err: Error) => opts.onError?.(err));
  client.defineCommand("hpFill", { numberOfKeys: 2, lua: FILL });
  client.defineCommand("hpEvict", { numberOfKeys: 2, lua: EVICT });

  const masters = (): Redis[] => (isCluster ? (client as Cluster).nodes("master") : [client as Redis]);
  // Which server process answers: a run_id that changed means Redis restarted (perhaps from an
  // older snapshot, which brings back entries that evictions since that snapshot had deleted).
  const identity = async () => {
    const infos = await Promise.all(masters().map((n) => n.info("server")));
    return infos.map((i) => /run_id:(\w+)/.exec(i)?.[1] ?? "?").sort().join(",");
  };
  let runId: string | undefined;
  let announced = false;
  const listeners: ((info: { first: boolean; restarted: boolean }) => void)[] = [];
  client.on("ready", async () => {
    // Unknown identity (INFO failed) counts as a restart: the safe side.
    const id = await identity().catch(() => "");
    const info = { first: runId === undefined, restarted: runId !== undefined && (id === "" || id !== runId) };
    runId = id;
    announced = true;
    for (const l of listeners) l(info);
  });

  return {
    kind: isCluster ? "redis-cluster" : "redis",
    client,
    async read(key) {
      // One round trip: the entry and its counter share a hash slot, so MGET works on a cluster.
      // As bytes: the entry carries compressed representations (entry.ts).
      const [value, gen] = await client.mgetBuffer(key, `${key}${GEN_SUFFIX}`);
      return { value: value ? (parseEntry(value) ?? null) : null, gen: gen ? gen.toString("latin1") : "" };
    },
    async fill(key, gen, value, ttlMs) {
      return (await client.hpFill(key, `${key}${GEN_SUFFIX}`, gen, serializeEntry(value), Math.max(1, Math.round(ttlMs)))) === 1;
    },
    async evict(keys) {
      await Promise.all(keys.map((key) => client.hpEvict(key, `${key}${GEN_SUFFIX}`, GEN_TTL_MS, opts.channel ?? "")));
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
    onReady(listener) {
      listeners.push(listener);
      // Connected before anyone listened: that first connection is still news to this listener.
      if (announced) queueMicrotask(() => listener({ first: true, restarted: false }));
    },
    async clampTtl(pattern, maxMs) {
      let seen = 0;
      for (const node of masters()) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
          cursor = next;
          const entries = keys.filter((k) => !k.endsWith(GEN_SUFFIX));
          if (entries.length) {
            const batch = node.pipeline();
            // LT: only ever shortens. Spread over [max/2, max] so the entries do not all expire at once.
            for (const k of entries) batch.pexpire(k, Math.max(1, Math.round(maxMs * (0.5 + Math.random() / 2))), "LT");
            await batch.exec();
          }
          seen += entries.length;
        } while (cursor !== "0");
      }
      return seen;
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
