import { ApiError } from "../lib/errors";

// The queue in front of the connection pool. postgres.js queues internally without a bound and
// pipelines up to 100 statements onto a connection that is already busy, so a statement blocked
// on a lock also stalls every statement pipelined behind it on that connection (a users read
// behind a locked documents read), and nothing tells how long anything waited. Here at most one
// statement per connection is handed to the driver: a slot is a connection. postgres.js puts a
// finished connection back before it resolves the statement's promise, so a slot released here
// always finds a free connection there, and the driver never pipelines behind a stuck statement.
//
// Two classes share the slots. "point" statements (one row by primary key of a small table:
// profile and flag reads, declared in hot-queries.ts; Idempotency-Key records, idempotency.ts)
// may take any slot; every other statement (document reads and lists, stats, writes,
// transactions) at most `max - reserved`. So a locked or slow documents table can hold at most
// that share, and profile reads keep a connection. Measured: README "Failure behaviour".

/** What a waiting or running statement is cancelled through (a request's scope, see context.ts). */
export interface Cancellable {
  cancel(): unknown;
}

export interface QueueScope {
  /** Set when the request timed out: its statements are cancelled and new ones refused. */
  timedOut: boolean;
  running: Cancellable[] | undefined;
}

/**
 * Cancels a running postgres.js statement (a CancelRequest on a side connection). Query#cancel()
 * drops the promise that request returns, and it rejects when Postgres is down: called here
 * directly so that rejection is caught (postgres.js' own canceller, cleared as cancel() does).
 */
export function cancelQuery(q: Cancellable): void {
  const x = q as Cancellable & { canceller?: ((q: unknown) => Promise<void>) | null };
  if (typeof x.canceller !== "function") return void q.cancel();
  const cancel = x.canceller;
  x.canceller = null;
  cancel(x).catch(() => {});
}

interface Waiter {
  point: boolean;
  scope: QueueScope | undefined;
  since: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  grant: () => void;
  fail: (err: unknown) => void;
}

export interface PoolQueueOptions {
  max: number;
  /** Slots only point statements may take; capped so at least one slot serves everything. */
  reserved: number;
  acquireTimeoutMs: number;
}

export const poolExhausted = (acquireTimeoutMs: number) =>
  new ApiError(503, "pool_exhausted", "every database connection is busy; try again shortly", undefined, {
    "Retry-After": String(Math.max(1, Math.ceil(acquireTimeoutMs / 1000))),
  });

export const requestTimedOut = () => new ApiError(504, "timeout", "the request timed out; its statement was cancelled");

export class PoolQueue {
  readonly max: number;
  /** Slots the general class may hold. */
  readonly generalMax: number;
  inUse = 0;
  generalInUse = 0;
  timeouts = 0;
  /** Called once per acquisition with the wait in ms (0 when a slot was free): the wait histogram. */
  onWait: ((ms: number, point: boolean) => void) | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly acquireTimeoutMs: number;

  constructor(opts: PoolQueueOptions) {
    this.max = opts.max;
    this.generalMax = opts.max - Math.min(Math.max(0, opts.reserved), opts.max - 1);
    this.acquireTimeoutMs = opts.acquireTimeoutMs;
  }

  /** Statements waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Every connection the general class may use is taken, or statements wait: readiness' "busy". */
  get saturated(): boolean {
    return this.waiters.length > 0 || this.generalInUse >= this.generalMax;
  }

  /** Takes a slot if one is free for this class; the hot path (no allocation). */
  tryAcquire(point: boolean): boolean {
    if (this.inUse >= this.max || (!point && this.generalInUse >= this.generalMax)) return false;
    this.inUse++;
    if (!point) this.generalInUse++;
    this.onWait?.(0, point);
    return true;
  }

  /** Waits for a slot, at most acquireTimeoutMs (then a 503 pool_exhausted). */
  acquire(point: boolean, scope: QueueScope | undefined): Promise<void> {
    if (this.tryAcquire(point)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        point,
        scope,
        since: performance.now(),
        timer: undefined,
        grant: resolve,
        fail: reject,
      };
      w.timer = setTimeout(() => {
        this.timeouts++;
        this.drop(w, poolExhausted(this.acquireTimeoutMs));
      }, this.acquireTimeoutMs);
      this.waiters.push(w);
    });
  }

  release(point: boolean): void {
    this.inUse--;
    if (!point) this.generalInUse--;
    // First come, first served among the waiters the freed capacity can serve.
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (!w.point && this.generalInUse >= this.generalMax) continue;
      this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      this.inUse++;
      if (!w.point) this.generalInUse++;
      this.onWait?.(performance.now() - w.since, w.point);
      w.grant();
      return;
    }
  }

  /** A timed-out request: refuse its new statements, drop its waiting ones, cancel its running ones. */
  cancelScope(scope: QueueScope): void {
    scope.timedOut = true;
    for (const w of this.waiters.filter((x) => x.scope === scope)) this.drop(w, requestTimedOut());
    for (const q of scope.running ?? []) cancelQuery(q);
  }

  private drop(w: Waiter, err: unknown): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.fail(err);
  }
}
