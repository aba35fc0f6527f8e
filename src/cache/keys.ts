// Every cache key is built here: namespaced (prefix), versioned (bump KEY_VERSION when a cached
// shape changes, and old entries simply age out), and made only from validated ids, never from
// raw request text. The {…} part is a Redis Cluster hash tag: an entry and its generation
// counter (see store.ts) always land in the same slot, so the compare-and-set script is legal.
// v2: the cached user profile is the public one (no email).
// v3: entries carry their fresh-until time ("<ms>|<json>", see cache-aside.ts) for grace.
// v4: entries are binary and carry their compressed representations (entry.ts); a v3 instance
// would send those bytes as JSON, so the two must not share keys during a rolling deploy.
export const KEY_VERSION = "v4";

export function cacheKeys(prefix: string) {
  const k = (tag: string, suffix = "") => `${prefix}:${KEY_VERSION}:{${tag}}${suffix}`;
  return {
    user: (id: number) => k(`user:${id}`),
    userStats: (id: number) => k(`user:${id}`, ":stats"),
    document: (id: number) => k(`doc:${id}`),
    flag: (key: string) => k(`flag:${encodeURIComponent(key)}`),
    flags: () => k("flags"),
    globalStats: () => k("stats"),
    /** rate-limiter-flexible's prefix for one limit (its counters are not cache entries). */
    rateLimit: (name: string) => `${prefix}:rl:${name}`,
  };
}

export type CacheKeys = ReturnType<typeof cacheKeys>;
