import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { PoolQueue } from "../db/pool-queue";
import { RequestStats, requestStore } from "../context/request";
import { ApiError } from "../lib/errors";
import type { InFlight, Lifecycle } from "../lifecycle";

export interface RequestTimeoutOptions {
  ms: number;
  pool: PoolQueue;
  /** Set when served (src/lifecycle.ts): requests still running at the shutdown deadline are cut. */
  lifecycle?: Lifecycle;
}

const timedOut = () =>
  new HTTPException(504, {
    message:
      "the request timed out and its statements were cancelled; a write may or may not have been applied: " +
      "retry it with the same Idempotency-Key to learn its outcome",
  });

const shuttingDown = () =>
  new ApiError(
    503,
    "shutting_down",
    "the server shut down before the request finished and its statements were cancelled; a write may or may not have been applied: " +
      "retry it with the same Idempotency-Key to learn its outcome",
    undefined,
    { "Retry-After": "1", Connection: "close" },
  );

/**
 * hono/timeout's race, that also cancels what the request left running, and that the shutdown
 * deadline ends too. The answer (504, or 503 `shutting_down` when SHUTDOWN_TIMEOUT_S ran out:
 * every request ends with an HTTP response) goes out at once but the handler keeps going, and so
 * would its statement, holding a connection (and a write could commit after the client was told
 * it failed). So both mark the request's scope timed out: the pool queue drops its waiting
 * statements, refuses new ones and cancels the running ones (a CancelRequest: Postgres aborts and
 * rolls back the statement). An Idempotency-Key (mounted inside) still records the real outcome;
 * the lifecycle waits a moment for the handlers it cut before the pool closes.
 * One race per request serves both ends: a separate middleware cost ~0.5 µs more per request, and
 * a shared shutdown promise raced by every request would keep a reaction per request (a leak).
 */
export function requestTimeout(opts: RequestTimeoutOptions): MiddlewareHandler {
  const { ms, pool } = opts;
  const inFlight = opts.lifecycle?.inFlight;
  const cancel = (c: Context) => {
    const scope = c.get("stats") as RequestStats | undefined;
    if (scope) pool.cancelScope(scope);
  };
  return async function requestTimeout(c, next) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let reject!: (err: unknown) => void;
    const deadline = new Promise<never>((_, r) => {
      reject = r;
      timer = setTimeout(() => {
        cancel(c);
        r(timedOut());
      }, ms);
    });
    const handler = next();
    const request: InFlight | undefined = inFlight && {
      handler,
      cut() {
        cancel(c);
        reject(shuttingDown());
      },
    };
    if (request) inFlight!.add(request);
    try {
      await Promise.race([handler, deadline]);
    } finally {
      clearTimeout(timer);
      if (request) inFlight!.delete(request);
    }
  };
}

/**
 * The request's scope when requestStats (instrumentation) is off: the pool queue still needs to
 * know which statements belong to which request, to cancel them on a timeout.
 */
export function requestScope(): MiddlewareHandler {
  return function requestScope(c, next) {
    const scope = new RequestStats(c.get("requestId") ?? "");
    c.set("stats", scope);
    return requestStore.run(scope, next);
  };
}
