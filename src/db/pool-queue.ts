import type { Cancellable } from "../context/request";
import { ApiError } from "../lib/errors";

// The queue in front of the connection pools. postgres.js queues internally without a bound and
// pipelines up to 100 statements onto a connection that is already busy: a statement blocked on
// a lock stalls every statement pipelined behind it on that connection (a users read behind a
// locked documents read), and nothing tells how long anything waited.
//
// Two lanes, each its own postgres.js pool (client.ts), so they never share a connection:
// - point: one row by primary key of a small table (profile and flag reads, declared in
//   hot-queries.ts; Idempotency-Key records, idempotency.ts), on DB_POOL_RESERVED connections;
// - general: everything else (document reads and lists, stats, writes, transactions), on the
//   other DB_POOL_MAX - DB_POOL_RESERVED.
// A locked or slow documents table can stall only the general lane; profile reads keep theirs.
// Each lane admits at most connections × DB_PIPELINE_DEPTH statements into its driver: pipelining
// is kept (on 2 cores it is most of the throughput of short queries), but a stuck connection
// takes at most that many statements with it, and the rest wait here, measured, for at most
// DB_ACQUIRE_TIMEOUT_MS before a 503 pool_exhausted. Measured: README "Failure behaviour".


export interface QueueScope {
  /** Set when the request timed out: its statements are cancelled and new ones refused. */
  timedOut: boolean;
  running: Cancellable[] | undefined;
}

/**
 * Cancels a running postgres.js statement (a CancelRequest on a side connection). Query#cancel()
 * drops the promise that request returns, and it rejects when Postgres is down: called here
 * directly so that rejection is caught (postgres.js' own canceller, cleared as cancel() does).
 *
 * A statement not yet written to a connection (no `state`: postgres.js sets it when it sends the
 * statement) is left alone. It is either the first statement of a connection still connecting or
 * waiting out its reconnect backoff, or queued for one; postgres.js 3.4.9 marks it cancelled, and
 * when that connection then opens it skips the statement without ever moving the connection out of
 * its "connecting" state: nothing is queued on it again until DB_MAX_LIFETIME_S (30 min) ends it,
 * and once every connection of a lane is lost that way each statement waits until its request
 * times out — after a Postgres outage the service answered 504 for that long. Left alone, the
 * statement runs when its connection opens or fails with it; its request has had its 504.
 */
export function cancelQuery(q: Cancellable): void {
  const x = q as Cancellable & { canceller?: ((q: unknown) => Promise<void>) | null; state?: unknown };
  if (typeof x.canceller !== "function") return void q.cancel();
  if (!x.state) return;
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
  /** Statements the general lane admits at once (its connections × pipeline depth). */
  generalSlots: number;
  /** Statements the point lane admits at once; 0 = no point lane (point statements go general). */
  pointSlots: number;
  acquireTimeoutMs: number;
}

export const poolExhausted = (acquireTimeoutMs: number) =>
  new ApiError(503, "pool_exhausted", "every database connection is busy; try again shortly", undefined, {
    "Retry-After": String(Math.max(1, Math.ceil(acquireTimeoutMs / 1000))),
  });

export const requestTimedOut = () => new ApiError(504, "timeout", "the request timed out; its statement was cancelled");

export class PoolQueue {
  readonly generalSlots: number;
  readonly pointSlots: number;
  generalInUse = 0;
  pointInUse = 0;
  timeouts = 0;
  /** Called once per admission with the wait in ms (0 when a slot was free): the wait histogram. */
  onWait: ((ms: number, point: boolean) => void) | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly acquireTimeoutMs: number;

  constructor(opts: PoolQueueOptions) {
    this.generalSlots = opts.generalSlots;
    this.pointSlots = opts.pointSlots;
    this.acquireTimeoutMs = opts.acquireTimeoutMs;
  }

  /** Statements admitted and not finished, both lanes. */
  get inUse(): number {
    return this.generalInUse + this.pointInUse;
  }

  /** Statements waiting to be admitted. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** The general lane is full or statements wait: readiness' "busy". */
  get saturated(): boolean {
    return this.waiters.length > 0 || this.generalInUse >= this.generalSlots;
  }

  /** Whether a statement of this class runs in the point lane (there is one). */
  lane(point: boolean): boolean {
    return point && this.pointSlots > 0;
  }

  /** Takes a slot of the lane if one is free; the hot path (no allocation). `point` = lane(). */
  tryAcquire(point: boolean): boolean {
    if (point) {
      if (this.pointInUse >= this.pointSlots) return false;
      this.pointInUse++;
    } else {
      if (this.generalInUse >= this.generalSlots) return false;
      this.generalInUse++;
    }
    this.onWait?.(0, point);
    return true;
  }

  /** Waits for a slot, at most acquireTimeoutMs (then a 503 pool_exhausted). */
  acquire(point: boolean, scope: QueueScope | undefined): Promise<void> {
    if (this.tryAcquire(point)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { point, scope, since: performance.now(), timer: undefined, grant: resolve, fail: reject };
      w.timer = setTimeout(() => {
        this.timeouts++;
        this.drop(w, poolExhausted(this.acquireTimeoutMs));
      }, this.acquireTimeoutMs);
      this.waiters.push(w);
    });
  }

  release(point: boolean): void {
    // The slot passes straight to the lane's oldest waiter, if any.
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (w.point !== point) continue;
      this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      this.onWait?.(performance.now() - w.since, point);
      w.grant();
      return;
    }
    if (point) this.pointInUse--;
    else this.generalInUse--;
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
