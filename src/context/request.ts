import { AsyncLocalStorage } from "node:async_hooks";

// The per-request context: what the driver wrapper, the pool queue, the cache and the middleware
// record about one request, carried in an AsyncLocalStorage. A leaf: it imports nothing of ours
// (test/layers.test.ts), so every layer may use it.

/** What a waiting or running statement is cancelled through (a request's scope; db/pool-queue.ts). */
export interface Cancellable {
  cancel(): unknown;
}

/** The server span of one request, kept on its RequestStats (made by obs/tracing.ts). */
export interface RequestTrace {
  readonly traceId: string;
  /** W3C traceparent of this request's server span (sent back in Server-Timing). */
  readonly traceparent: string;
  /** Sampled: its spans are recorded and exported. Unsampled requests still propagate ids. */
  readonly recording: boolean;
}

/**
 * "evict" marks a write that invalidated cache entries; "l1-hit" a hit in this process' L1;
 * "stale" a value past its TTL served inside the grace window (README "Grace").
 */
export type CacheResult = "l1-hit" | "hit" | "miss" | "stale" | "evict" | "bypass" | "error";

export interface QueryRecord {
  sql: string;
  params: readonly unknown[];
  /** Time at the driver, from admission to the result (the pool wait is not in it). */
  durMs: number;
  /** Time waiting in the pool queue for admission (pool-queue.ts); 0 when a slot was free. */
  poolMs: number;
  rows: number;
  error?: string;
}

/**
 * What one request spent, filled in by the driver wrapper and the cache; read by Server-Timing.
 * Also the request's scope for the pool queue: what a timeout cancels.
 */
export class RequestStats {
  dbMs = 0;
  /** Summed waits of this request's statements (and transactions) for a pool slot. */
  poolMs = 0;
  queries = 0;
  cacheMs = 0;
  cacheResult: CacheResult | undefined;
  /** Time in the encoder for this request (Server-Timing `compress`), and what it produced (lib/encoding.ts encode). */
  compressMs = 0;
  encoding: string | undefined = undefined;
  /** A cached value past its TTL was served (sendJson marks the response X-Cache: stale). */
  stale = false;
  /** Statement texts, kept only when somebody asked (plan capture, N+1 detection). */
  readonly statements: QueryRecord[] = [];
  route = "";
  /** This request's server span, when tracing is on (obs/tracing.ts). */
  trace: RequestTrace | undefined = undefined;
  /** The request timed out: its statements were cancelled and new ones are refused (pool-queue.ts). */
  timedOut = false;
  /** Its statements running right now, so a timeout can cancel them; created on first use. */
  running: Cancellable[] | undefined = undefined;
  constructor(
    readonly requestId: string = "",
    readonly captureStatements = false,
  ) {}

  addCache(result: CacheResult, ms: number): void {
    this.cacheMs += ms;
    if (result === "stale") this.stale = true;
    // The header shows the most telling outcome of the request: error > bypass > evict > miss > hit.
    if (this.cacheResult === undefined || rank[result] > rank[this.cacheResult]) this.cacheResult = result;
  }
}

const rank: Record<CacheResult, number> = { "l1-hit": 0, hit: 1, miss: 2, stale: 3, evict: 4, bypass: 5, error: 6 };

export const requestStore = new AsyncLocalStorage<RequestStats>();

export const currentStats = (): RequestStats | undefined => requestStore.getStore();
