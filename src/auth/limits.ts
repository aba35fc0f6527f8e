import type { Cluster, Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Breaker } from "../cache/breaker";
import type { Env } from "../env";
import { ApiError } from "../lib/errors";

export type LimiterName = "writes" | "auth_failures";

const tooMany = (res: RateLimiterRes, what: string) => {
  const retryS = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new ApiError(429, "rate_limited", `too many ${what}; retry in ${retryS} s`, undefined, { "retry-after": String(retryS) });
};

/**
 * The two abuse limits, counted by rate-limiter-flexible: in Redis (the cache's client, under
 * REDIS_KEY_PREFIX) so they hold across instances, or in process memory with the LRU cache.
 * Redis failing (down, paused, not connected yet) fails open: the request goes on unlimited and
 * `failOpen` counts it (exported as rate_limit_fail_open_total).
 *
 * Over Redis the limits go through the cache's breaker (`breaker`): one notion of "Redis is sick"
 * for the process. While it is open they fail open at once, without sending a command (counted in
 * `failOpen` and in `failOpenBreaker`), instead of each waiting out REDIS_COMMAND_TIMEOUT_MS; their
 * outcomes count like the cache's (a store failure towards opening it, an answer — the limit
 * reached included — as a success), so a sick Redis is noticed by whichever path meets it first.
 */
export function createLimits(env: Env, keyPrefix: (name: LimiterName) => string, redis?: Redis | Cluster, breaker?: Breaker) {
  const make = (name: LimiterName, points: number, duration: number): RateLimiterAbstract | undefined => {
    if (points === 0) return undefined;
    const opts = { keyPrefix: keyPrefix(name), points, duration };
    // rejectIfRedisNotReady: while disconnected, fail at once instead of waiting on the socket.
    return redis ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true }) : new RateLimiterMemory(opts);
  };
  const writes = make("writes", env.RATE_LIMIT_WRITES, env.RATE_LIMIT_WRITES_WINDOW_S);
  const failures = make("auth_failures", env.RATE_LIMIT_AUTH_FAILURES, env.RATE_LIMIT_AUTH_FAILURES_WINDOW_S);
  const failOpen: Record<LimiterName, number> = { writes: 0, auth_failures: 0 };
  // The part of failOpen skipped by the open breaker: no command was sent.
  const failOpenBreaker: Record<LimiterName, number> = { writes: 0, auth_failures: 0 };
  // The in-memory limiter cannot fail: only a Redis-backed one is put behind the breaker.
  const gate = redis ? breaker : undefined;

  /** Runs a limiter call; a RateLimiterRes rejection is the limit, anything else is the store failing. */
  async function guarded<T>(name: LimiterName, call: () => Promise<T>, what: string): Promise<T | undefined> {
    if (gate && !gate.allow()) {
      failOpen[name]++;
      failOpenBreaker[name]++;
      return undefined;
    }
    try {
      const res = await call();
      gate?.success();
      return res;
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        // Redis answered (the limit is reached): as healthy as any other answer.
        gate?.success();
        throw tooMany(err, what);
      }
      gate?.failure();
      failOpen[name]++;
      return undefined;
    }
  }

  return {
    failOpen,
    failOpenBreaker,
    /** One write by this subject; 429 past RATE_LIMIT_WRITES per window. */
    async consumeWrite(sub: string): Promise<void> {
      if (writes) await guarded("writes", () => writes.consume(sub), "writes");
    },
    /** 429 when this address has used up its failed authentications: checked before verifying. */
    async checkAuthFailures(address: string): Promise<void> {
      if (!failures) return;
      const res = await guarded("auth_failures", () => failures.get(address), "failed authentications");
      if (res && res.consumedPoints >= env.RATE_LIMIT_AUTH_FAILURES) throw tooMany(res, "failed authentications");
    },
    /** Counts one failed authentication from this address. */
    async recordAuthFailure(address: string): Promise<void> {
      if (failures) await guarded("auth_failures", () => failures.consume(address), "failed authentications");
    },
  };
}

export type Limits = ReturnType<typeof createLimits>;
