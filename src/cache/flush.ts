import type Redis from "ioredis";

/**
 * Deletes every key under `prefix:` with SCAN (never KEYS, which blocks Redis on a big keyspace).
 * For tests, benchmarks and operators dropping a namespace; the service itself never calls it.
 */
export async function flushPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}
