import { LRUCache } from "lru-cache";
import { currentStats, requestStore, type CacheResult } from "../context/request";
import type { CacheEventResult, CacheLayer, Telemetry } from "../context/telemetry";
import type { Breaker } from "./breaker";
import type { InvalidationBus } from "./bus";
import type { Entry } from "./entry";
import type { CacheStore } from "./store";
import type { L1Class } from "../env";

export interface L1Options {
  /** L1 TTL per class in ms; a class left out is never kept in L1. */
  ttlMs: Partial<Record<L1Class, number>>;
  maxEntries: number;
  bus: InvalidationBus;
}

export interface CacheAsideOptions {
  store: CacheStore;
  breaker: Breaker;
  /** Where operations are reported; undefined (INSTRUMENTATION=off): nothing is timed. */
  telemetry: Telemetry | undefined;
  negativeTtlS: number;
  jitterPct: number;
  /**
   * Entries outlive their TTL by this much in Redis: past the TTL they are served stale while one
   * background refresh per key runs, so a failing Postgres still gets answers. 0: off.
   */
  graceS?: number;
  /** The in-process tier in front of the store; only meaningful over Redis. */
  l1?: L1Options;
  /**
   * The compressed representations to store beside the JSON when filling (lib/encoding.ts
   * precompressor), so a hit is sent without running an encoder; undefined: none for this body.
   */
  precompress?: (json: string) => Entry["coded"];
  /** A background refresh failed (the reader already got the stale value). */
  onRefreshError?: (key: string, err: unknown) => void;
  /**
   * After this process first connects and after Redis restarted, entries matching `match` get
   * their TTL clamped to `ttlS` (see README "Failure behaviour"); ttlS 0 turns it off.
   */
  recovery?: { match: string; ttlS: number; onDone?: (info: { entries: number } | { error: Error }) => void };
}

/** The serialized JSON of a negative result (the loader found nothing). */
const NOT_FOUND = "null";

/** The JSON inside a stored entry (tests and tools reading Redis directly); null if none. */
export { entryJson } from "./entry";

/** How many recent invalidations L1 remembers per key (see `invalidatedSince`). */
const MARKS = 10_000;

type Outcome = "ok" | "bypass" | "error";

/**
 * Cache-aside over a CacheStore, holding already-serialized JSON so a hit is sent as-is, and
 * beside it the compressed representations made at fill (`precompress`), in the same entry.
 *
 * getOrLoad: read → on miss run the loader once per key per process (single-flight) → fill
 * with TTL + jitter, unless an eviction happened meanwhile → return. `null` from the loader is
 * cached briefly as a negative result. Any store failure degrades to the loader (fail-open);
 * the breaker turns a dead store into a free "bypass".
 *
 * An eviction that does not reach the store — an error, a timeout, or the breaker open — is kept
 * as pending and replayed before any later read or fill goes to the store: a write acknowledged
 * during an outage can never be hidden by the value cached before it once Redis answers again.
 *
 * L1 (optional): an in-process LRU in front of the store, per data class with its own short TTL.
 * An eviction drops the key here at once and, through the bus, in every other instance. A value
 * enters L1 only if no invalidation of its key (local or from the bus) and no bus outage happened
 * since the read that produced it began — so a fill that loaded before a write reaches neither
 * tier after the write. While the bus is down L1 is bypassed, and it is cleared on every change.
 */
export function createCacheAside(opts: CacheAsideOptions) {
  const { store, breaker, telemetry } = opts;
  const inflight = new Map<string, Promise<Entry | null>>();
  // key → sequence of its latest failed eviction: a replay only clears what it replayed.
  const pending = new Map<string, number>();
  let seq = 0;
  let replaying: Promise<Outcome> | undefined;
  // Bumped whenever an eviction is missed or Redis reconnects: a load that started before must not
  // fill (its generation may predate an eviction that never ran, or a restart that reset counters).
  let epoch = 0;
  // Counts evict() calls: a read that saw it change while out does not offer its load to joiners.
  let evictions = 0;

  const graceMs = (opts.graceS ?? 0) * 1000;

  // Off: no clock; only what the response itself needs (X-Cache: stale) reaches the request.
  const clock = telemetry ? () => performance.now() : () => 0;
  const record = telemetry
    ? (op: "get" | "set" | "del", result: CacheEventResult, start: number, layer: CacheLayer = "redis") => {
        const durMs = performance.now() - start;
        // A fill follows the read's miss: for the request it is more time of that miss.
        currentStats()?.addCache(result === "filled" ? "miss" : result, durMs);
        if (telemetry.cache.active) telemetry.cache.emit({ op, result, durMs, layer });
      }
    : (_op: string, result: CacheEventResult, _start?: number, _layer?: CacheLayer) => {
        const stats = result === "stale" ? currentStats() : undefined;
        if (stats) stats.stale = true;
      };

  // ── L1 ──
  const l1 = opts.l1;
  const lru = l1 ? new LRUCache<string, Entry>({ max: l1.maxEntries, ttlAutopurge: false }) : undefined;
  // Every invalidation gets a sequence number; `marks` keeps the latest per key for the most
  // recent MARKS keys. A key whose mark was pushed out counts as invalidated for any read that
  // began before `floor` (the safe side), and a bus outage raises `floor` past everything.
  let inv = 0;
  let floor = 0;
  const marks = new LRUCache<string, number>({
    max: MARKS,
    dispose: (s, _key, reason) => {
      if (reason === "evict" && s > floor) floor = s;
    },
  });
  const invalidatedSince = (key: string, seen: number) => floor > seen || (marks.peek(key) ?? 0) > seen;
  const invalidate = (key: string) => {
    if (!lru) return;
    lru.delete(key);
    marks.set(key, ++inv);
  };
  let busUp = false;
  if (l1) {
    busUp = l1.bus.connected;
    l1.bus.onInvalidate(invalidate);
    l1.bus.onState((up) => {
      // Down: messages are being lost. Up again: some were. Either way nothing in L1 is known fresh.
      lru!.clear();
      floor = ++inv;
      busUp = up;
    });
  }
  /** Offers a value read or loaded by a read that began at invalidation sequence `seen`. */
  const l1Fill = (key: string, cls: L1Class | undefined, entry: Entry, freshMs: number, seen: number) => {
    const classTtl = cls && l1?.ttlMs[cls];
    if (!classTtl || !busUp || invalidatedSince(key, seen)) return;
    const ttl = Math.floor(Math.min(classTtl, freshMs));
    if (ttl >= 1) lru!.set(key, entry, { ttl });
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

  async function load(key: string, ttlS: number, gen: string | null, loader: () => Promise<unknown>, cls: L1Class | undefined, seen: number) {
    const seenEpoch = epoch;
    const value = await loader();
    const json = value === null || value === undefined ? NOT_FOUND : JSON.stringify(value);
    let entry: Entry = { freshUntil: 0, json };
    if (gen !== null && seenEpoch === epoch && (pending.size === 0 || (await replay()) === "ok")) {
      const ttlMs = ttlWithJitter(json === NOT_FOUND ? opts.negativeTtlS : ttlS);
      // Compressed once here, for every later hit (and this response); in Server-Timing `compress`.
      const coded = json === NOT_FOUND ? undefined : opts.precompress?.(json);
      entry = { freshUntil: Date.now() + ttlMs, json, coded };
      const start = clock();
      // A failed fill is not the request's problem: the value is returned either way.
      const r = await guarded(() => store.fill(key, gen, entry, ttlMs + graceMs));
      // Counted in the request's cache time (Server-Timing) like the read: it is time in Redis.
      record("set", r.ok ? "filled" : "error", start);
      // Only what Redis took (the generation still matched) may go to L1.
      if (r.ok && r.value) l1Fill(key, cls, entry, ttlMs, seen);
    }
    return json === NOT_FOUND ? null : entry;
  }

  /** Refreshes a stale entry off the request (one per key per process); the reader is not kept. */
  function refresh(key: string, ttlS: number, gen: string, loader: () => Promise<unknown>, cls: L1Class | undefined, seen: number) {
    if (inflight.has(key)) return;
    // Outside the request's scope: its timeout must not cancel, nor its stats count, this load.
    const p = requestStore.exit(() => load(key, ttlS, gen, loader, cls, seen));
    inflight.set(key, p);
    p.catch((err) => opts.onRefreshError?.(key, err)).finally(() => {
      if (inflight.get(key) === p) inflight.delete(key);
    });
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
    /** Whether L1 is in use: undefined without L1, else whether the bus is subscribed. */
    get l1BusConnected(): boolean | undefined {
      return l1 ? busUp : undefined;
    },
    get l1Entries(): number {
      return lru?.size ?? 0;
    },
    /**
     * The cached entry (its JSON and the compressed representations stored with it), or null when
     * the loader found nothing. `cls` names the data class, which decides whether (and how long) L1
     * may keep it.
     */
    async getOrLoadEntry(key: string, ttlS: number, loader: () => Promise<unknown>, cls?: L1Class): Promise<Entry | null> {
      const start = clock();
      if (busUp && cls !== undefined) {
        const hit = lru!.get(key);
        if (hit !== undefined) {
          record("get", "l1-hit", start, "l1");
          return hit.json === NOT_FOUND ? null : hit;
        }
      }
      const seen = inv;
      const evictionsBefore = evictions;
      // O(1) on the hot path: a Map size check; the replay runs only after a missed eviction.
      const before = pending.size === 0 ? "ok" : await replay();
      const r = before === "ok" ? await guarded(() => store.read(key)) : { ok: false as const, bypass: before === "bypass" };
      const entry = r.ok ? r.value.value : null;
      if (entry) {
        const freshMs = entry.freshUntil - Date.now();
        const found = entry.json === NOT_FOUND ? null : entry;
        if (freshMs > 0) {
          record("get", "hit", start);
          l1Fill(key, cls, entry, freshMs, seen);
          return found;
        }
        // Past its TTL, inside the grace it was stored with: answer now, refresh behind.
        if (graceMs > 0) {
          record("get", "stale", start);
          refresh(key, ttlS, (r as { value: { gen: string } }).value.gen, loader, cls, seen);
          return found;
        }
      }
      record("get", r.ok ? "miss" : r.bypass ? "bypass" : "error", start);
      const joined = inflight.get(key);
      if (joined) return joined;
      const p = load(key, ttlS, r.ok ? r.value.gen : null, loader, cls, seen);
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
    /** The JSON text of the value (getOrLoadEntry without the compressed representations), or null. */
    async getOrLoad(key: string, ttlS: number, loader: () => Promise<unknown>, cls?: L1Class): Promise<string | null> {
      return (await this.getOrLoadEntry(key, ttlS, loader, cls))?.json ?? null;
    },
    /** Evict after a write. Never throws: an eviction that does not reach the store is replayed later. */
    async evict(...keys: string[]): Promise<void> {
      // A load already in flight read pre-write data: later readers must not join it.
      evictions++;
      for (const key of keys) {
        inflight.delete(key);
        invalidate(key);
      }
      const start = clock();
      const { outcome, failed } = await evictNow(keys);
      if (failed.length) defer(failed);
      record("del", outcome === "ok" ? "evict" : outcome, start);
    },
  };
}

export type CacheAside = ReturnType<typeof createCacheAside>;
