/**
 * Circuit breaker for Redis, shared by the cache and the rate limits (services.ts): after
 * `threshold` consecutive failures of either, both skip Redis (cache "bypass", limits fail open)
 * for `cooldownMs`, so a dead Redis costs nothing per request instead of a timeout per request.
 * After the cooldown one probe is let through (half-open): every caller that gets `allow()` true
 * must report `success()` or `failure()`, or the breaker stays shut.
 */
export function createBreaker(opts: { threshold: number; cooldownMs: number; now?: () => number }) {
  const now = opts.now ?? Date.now;
  let failures = 0;
  let openedAt = 0;
  let probing = false;
  return {
    get state(): "closed" | "open" | "half-open" {
      if (failures < opts.threshold) return "closed";
      return now() - openedAt >= opts.cooldownMs ? "half-open" : "open";
    },
    /** May a cache call go out now? */
    allow(): boolean {
      const s = this.state;
      if (s === "closed") return true;
      if (s === "open" || probing) return false;
      probing = true;
      return true;
    },
    success(): void {
      failures = 0;
      probing = false;
    },
    failure(): void {
      probing = false;
      failures++;
      if (failures >= opts.threshold) openedAt = now();
    },
  };
}
export type Breaker = ReturnType<typeof createBreaker>;
