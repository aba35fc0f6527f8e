import { LRUCache } from "lru-cache";
import type { Entry } from "./entry";

/**
 * The storage under cache-aside. Besides get/set it carries a per-key generation counter:
 * `read` returns the value with the generation seen, `fill` stores only if the generation is
 * unchanged, and `evict` bumps the generation before deleting. A read that missed, loaded the
 * old row and lost the race with a write can therefore never put the pre-write value back.
 */
export interface CacheStore {
  readonly kind: "redis" | "redis-cluster" | "memory";
  /** `value` is null on a miss, and for a stored value it cannot read (another format: a miss too). */
  read(key: string): Promise<{ value: Entry | null; gen: string }>;
  fill(key: string, gen: string, value: Entry, ttlMs: number): Promise<boolean>;
  evict(keys: string[]): Promise<void>;
  ping(): Promise<void>;
  /** Resolves once connected, or after timeoutMs either way: a dead cache must not block startup. */
  ready(timeoutMs: number): Promise<boolean>;
  /**
   * Calls `listener` each time the connection becomes ready: `first` for the first connection of
   * this process, `restarted` when the server itself restarted since the previous connection
   * (it may have come back from an older snapshot).
   */
  onReady(listener: (info: { first: boolean; restarted: boolean }) => void): void;
  /**
   * Shortens the TTL of every entry matching `pattern` (never a generation counter) to at most
   * `maxMs`, jittered down to half of it; returns how many keys it looked at.
   */
  clampTtl(pattern: string, maxMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Long enough to outlive any load in flight; the counter only has to exist while one might. */
export const GEN_TTL_MS = 60 * 60 * 1000;
export const GEN_SUFFIX = ":gen";

export function createMemoryStore(maxEntries: number): CacheStore {
  // Entries kept as objects: nothing to serialize in process.
  const values = new LRUCache<string, Entry>({ max: maxEntries, ttlAutopurge: false });
  const gens = new LRUCache<string, number>({ max: maxEntries, ttl: GEN_TTL_MS });
  const genOf = (key: string) => String(gens.get(key) ?? "");
  return {
    kind: "memory",
    async read(key) {
      return { value: values.get(key) ?? null, gen: genOf(key) };
    },
    async fill(key, gen, value, ttlMs) {
      if (genOf(key) !== gen) return false;
      values.set(key, value, { ttl: ttlMs });
      return true;
    },
    async evict(keys) {
      for (const key of keys) {
        gens.set(key, (gens.get(key) ?? 0) + 1);
        values.delete(key);
      }
    },
    async ping() {},
    async ready() {
      return true;
    },
    // In-process: it never loses its connection, and it restarts empty with the process.
    onReady() {},
    async clampTtl() {
      return 0;
    },
    async close() {
      values.clear();
      gens.clear();
    },
  };
}
