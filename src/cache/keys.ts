// Every cache key is built here: namespaced (prefix), versioned (bump KEY_VERSION when a cached
// shape changes, and old entries simply age out), and made only from validated ids, never from
// raw request text. The {…} part is a Redis Cluster hash tag: an entry and its generation
// counter (see store.ts) always land in the same slot, so the compare-and-set script is legal.
export const KEY_VERSION = "v1";

export function cacheKeys(prefix: string) {
  const k = (tag: string, suffix = "") => `${prefix}:${KEY_VERSION}:{${tag}}${suffix}`;
  return {
    user: (id: number) => k(`user:${id}`),
    userStats: (id: number) => k(`user:${id}`, ":stats"),
    document: (id: number) => k(`doc:${id}`),
    flag: (key: string) => k(`flag:${encodeURIComponent(key)}`),
    flags: () => k("flags"),
    globalStats: () => k("stats"),
    /** Companion generation counter used to reject stale fills after an eviction. */
    gen: (key: string) => `${key}:gen`,
  };
}

export type CacheKeys = ReturnType<typeof cacheKeys>;
