import { currentStats, type CacheResult } from "../obs/context";
import type { Telemetry } from "../obs/events";
import type { Breaker } from "./breaker";
import type { CacheStore } from "./store";

export interface CacheAsideOptions {
  store: CacheStore;
  breaker: Breaker;
  telemetry: Telemetry;
  negativeTtlS: number;
  jitterPct: number;
  /**
   * After this process first connects and after Redis restarted, entries matching `match` get
   * their TTL clamped to `ttlS` (see README "Failure behaviour"); ttlS 0 turns it off.
   */
  recovery?: { match: string; ttlS: number; onDone?: (info: { entries: number } | { error: Error }) => void };
}

/** The serialized JSON of a negative result (the loader found nothing). */
const NOT_FOUND = "null";

type Outcome = "ok" | "bypass" | "error";

/**
 * Cache-aside over a CacheStore, holding already-serialized JSON so a hit is sent as-is.
 *
 * getOrLoad: read → on miss run the loader once per key per process (single-flight) → fill
 * with TTL + jitter, unless an eviction happened meanwhile → return. `null` from the loader is
 * cached briefly as a negative result. Any store failure degrades to the loader (fail-open);
 * the breaker turns a dead store into a free "bypass".
 *
 * An eviction that does not reach the store — an error, a timeout, or the breaker open — is kept
 * as pending and replayed before any later read or fill goes to the store: a write acknowledged
 * during an outage can never be hidden by the value cached before it once Redis answers again.
 */
export function createCacheAside(opts: CacheAsideOptions) {
  const { store, breaker, telemetry } = opts;
  const inflight = new Map<string, Promise<string | null>>();
  // key → sequence of its latest failed eviction: a replay only clears what it replayed.
  const pending = new Map<string, number>();
  let seq = 0;
  let replaying: Promise<Outcome> | undefined;
  // Bumped whenever an eviction is missed or Redis reconnects: a load that started before must not
  // fill (its generation may predate an eviction that never ran, or a restart that reset counters).
  let epoch = 0;
  // Counts evict() calls: a read that saw it change while out does not offer its load to joiners.
  let evictions = 0;

  const record = (op: "get" | "set" | "del", result: CacheResult, start: number) => {
    const durMs = performance.now() - start;
    currentStats()?.addCache(result, durMs);
    if (telemetry.cache.active) telemetry.cache.emit({ op, result, durMs });
  };

  const ttlWithJitter = (ttlS: number) => ttlS * 1000 * (1 + (Math.random() * opts.jitterPct) / 100);

  async function guarded<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; bypass: boolean }> {
    if (!breaker.allow()) return { ok: false, bypass: true };
    try {
      const value = await fn();
      breaker.success();
      return { ok: true, value };
    } catch {
      breaker.failure();
      return { ok: false, bypass: false };
    }
  }

  const defer = (keys: string[]) => {
    epoch++;
    for (const key of keys) pending.set(key, ++seq);
  };

  /** Evicts each key; the keys that did not reach the store are returned as failed. */
  async function evictNow(keys: string[]): Promise<{ outcome: Outcome; failed: string[] }> {
    let failed = keys;
    const r = await guarded(async () => {
      const settled = await Promise.allSettled(keys.map((key) => store.evict([key])));
      failed = keys.filter((_, i) => settled[i]!.status === "rejected");
      if (failed.length) throw new Error("cache eviction failed");
    });
    return r.ok ? { outcome: "ok", failed: [] } : { outcome: r.bypass ? "bypass" : "error", failed };
  }

  /** Replays the pending evictions; concurrent callers share one replay. "ok" once none is left. */
  function replay(): Promise<Outcome> {
    replaying ??= (async (): Promise<Outcome> => {
      try {
        while (pending.size) {
          const batch = [...pending];
          const { outcome, failed } = await evictNow(batch.map(([key]) => key));
          const notDelivered = new Set(failed);
          for (const [key, s] of batch) if (!notDelivered.has(key) && pending.get(key) === s) pending.delete(key);
          if (outcome !== "ok") return outcome;
        }
        return "ok";
      } finally {
        replaying = undefined;
      }
    })();
    return replaying;
  }

  async function load(key: string, ttlS: number, gen: string | null, loader: () => Promise<unknown>) {
    const seenEpoch = epoch;
    const value = await loader();
    const json = value === null || value === undefined ? NOT_FOUND : JSON.stringify(value);
    if (gen !== null && seenEpoch === epoch && (pending.size === 0 || (await replay()) === "ok")) {
      const ttl = json === NOT_FOUND ? opts.negativeTtlS : ttlS;
      const start = performance.now();
      // A failed fill is not the request's problem: the value is returned either way.
      const r = await guarded(() => store.fill(key, gen, json, ttlWithJitter(ttl)));
      // Counted in the request's cache time (Server-Timing) like the read: it is time in Redis.
      record("set", r.ok ? "miss" : "error", start);
    }
    return json === NOT_FOUND ? null : json;
  }

  const recovery = opts.recovery;
  store.onReady(({ first, restarted }) => {
    epoch++;
    if (pending.size) void replay();
    // First connection of this process: a previous instance may have died holding evictions it
    // could not deliver. Restart: Redis may have come back from a snapshot older than the last
    // evictions. Either way entries may be stale: bound how long they may still be served.
    if (recovery && recovery.ttlS > 0 && (first || restarted)) {
      store.clampTtl(recovery.match, recovery.ttlS * 1000).then(
        (entries) => recovery.onDone?.({ entries }),
        (error: Error) => recovery.onDone?.({ error }),
      );
    }
  });

  return {
    store,
    breaker,
    /** Evictions not yet delivered to the store (for logs at shutdown and tests). */
    get pendingEvictions(): number {
      return pending.size;
    },
    /**
     * At shutdown: one last attempt to deliver the pending evictions, past the breaker (nothing
     * is left to protect, and each command is bounded by its timeout). Resolves with how many are left.
     */
    async flush(): Promise<number> {
      const batch = [...pending];
      const settled = await Promise.allSettled(batch.map(([key]) => store.evict([key])));
      batch.forEach(([key, s], i) => settled[i]!.status === "fulfilled" && pending.get(key) === s && pending.delete(key));
      return pending.size;
    },
    /** Returns the JSON text of the value, or null when the loader found nothing. */
    async getOrLoad(key: string, ttlS: number, loader: () => Promise<unknown>): Promise<string | null> {
      const start = performance.now();
      const evictionsBefore = evictions;
      // O(1) on the hot path: a Map size check; the replay runs only after a missed eviction.
      const before = pending.size === 0 ? "ok" : await replay();
      const r = before === "ok" ? await guarded(() => store.read(key)) : { ok: false as const, bypass: before === "bypass" };
      if (r.ok && r.value.value !== null) {
        record("get", "hit", start);
        return r.value.value === NOT_FOUND ? null : r.value.value;
      }
      record("get", r.ok ? "miss" : r.bypass ? "bypass" : "error", start);
      const joined = inflight.get(key);
      if (joined) return joined;
      const p = load(key, ttlS, r.ok ? r.value.gen : null, loader);
      // Shared only if no eviction ran while this read was out: a write may have landed meanwhile,
      // and a reader arriving after its eviction must not join a load that may predate it.
      if (evictions === evictionsBefore) {
        inflight.set(key, p);
        void p.finally(() => {
          if (inflight.get(key) === p) inflight.delete(key);
        }).catch(() => {});
      }
      return p;
    },
    /** Evict after a write. Never throws: an eviction that does not reach the store is replayed later. */
    async evict(...keys: string[]): Promise<void> {
      // A load already in flight read pre-write data: later readers must not join it.
      evictions++;
      for (const key of keys) inflight.delete(key);
      const start = performance.now();
      const { outcome, failed } = await evictNow(keys);
      if (failed.length) defer(failed);
      record("del", outcome === "ok" ? "evict" : outcome, start);
    },
  };
}

export type CacheAside = ReturnType<typeof createCacheAside>;
