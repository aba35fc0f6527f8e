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
}

/** The serialized JSON of a negative result (the loader found nothing). */
const NOT_FOUND = "null";

/**
 * Cache-aside over a CacheStore, holding already-serialized JSON so a hit is sent as-is.
 *
 * getOrLoad: read → on miss run the loader once per key per process (single-flight) → fill
 * with TTL + jitter, unless an eviction happened meanwhile → return. `null` from the loader is
 * cached briefly as a negative result. Any store failure degrades to the loader (fail-open);
 * the breaker turns a dead store into a free "bypass".
 */
export function createCacheAside(opts: CacheAsideOptions) {
  const { store, breaker, telemetry } = opts;
  const inflight = new Map<string, Promise<string | null>>();

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

  async function load(key: string, ttlS: number, gen: string | null, loader: () => Promise<unknown>) {
    const value = await loader();
    const json = value === null || value === undefined ? NOT_FOUND : JSON.stringify(value);
    if (gen !== null) {
      const ttl = json === NOT_FOUND ? opts.negativeTtlS : ttlS;
      const start = performance.now();
      // A failed fill is not the request's problem: the value is returned either way.
      const r = await guarded(() => store.fill(key, gen, json, ttlWithJitter(ttl)));
      if (telemetry.cache.active) telemetry.cache.emit({ op: "set", result: r.ok ? "miss" : "error", durMs: performance.now() - start });
    }
    return json === NOT_FOUND ? null : json;
  }

  return {
    store,
    breaker,
    /** Returns the JSON text of the value, or null when the loader found nothing. */
    async getOrLoad(key: string, ttlS: number, loader: () => Promise<unknown>): Promise<string | null> {
      const start = performance.now();
      const r = await guarded(() => store.read(key));
      if (r.ok && r.value.value !== null) {
        record("get", "hit", start);
        return r.value.value === NOT_FOUND ? null : r.value.value;
      }
      record("get", r.ok ? "miss" : r.bypass ? "bypass" : "error", start);
      const joined = inflight.get(key);
      if (joined) return joined;
      const p = load(key, ttlS, r.ok ? r.value.gen : null, loader).finally(() => {
        if (inflight.get(key) === p) inflight.delete(key);
      });
      inflight.set(key, p);
      return p;
    },
    /** Evict after a write. Never throws: a failed eviction is retried by the store later. */
    async evict(...keys: string[]): Promise<void> {
      // A load already in flight read pre-write data: later readers must not join it.
      for (const key of keys) inflight.delete(key);
      const start = performance.now();
      const r = await guarded(() => store.evict(keys));
      record("del", r.ok ? "evict" : r.bypass ? "bypass" : "error", start);
    },
  };
}

export type CacheAside = ReturnType<typeof createCacheAside>;
