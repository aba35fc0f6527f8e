import type { CacheResult, QueryRecord, RequestStats } from "./request";

// One measurement, many views: the driver wrapper, the cache and the request middleware emit
// here once; Server-Timing, metrics, slow-query and request logs subscribe.
export interface QueryEvent extends QueryRecord {
  stats: RequestStats | undefined;
}
export interface RequestEvent {
  method: string;
  route: string;
  status: number;
  totalMs: number;
  stats: RequestStats;
}
/** Which tier answered: this process' L1, or Redis (or the memory store standing in for it). */
export type CacheLayer = "l1" | "redis";
/** A request's outcomes, and "filled": a set that stored the value loaded after a miss. */
export type CacheEventResult = CacheResult | "filled";
export interface CacheEvent {
  op: "get" | "set" | "del";
  result: CacheEventResult;
  durMs: number;
  layer: CacheLayer;
}

type Listener<T> = (e: T) => void;

function channel<T>() {
  const listeners: Listener<T>[] = [];
  return {
    on(fn: Listener<T>): () => void {
      listeners.push(fn);
      return () => {
        const i = listeners.indexOf(fn);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
    emit(e: T): void {
      for (const fn of listeners) {
        try {
          fn(e);
        } catch {
          // An observer must never break the request it observes.
        }
      }
    },
    get active() {
      return listeners.length > 0;
    },
  };
}

/** Per app instance, so two apps in one process (tests) never see each other's traffic. */
export function createTelemetry() {
  return {
    query: channel<QueryEvent>(),
    request: channel<RequestEvent>(),
    cache: channel<CacheEvent>(),
  };
}
export type Telemetry = ReturnType<typeof createTelemetry>;
