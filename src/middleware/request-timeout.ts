import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { timeout } from "hono/timeout";
import type { PoolQueue } from "../db/pool-queue";
import { RequestStats, requestStore } from "../context/request";

export interface RequestTimeoutOptions {
  ms: number;
  pool: PoolQueue;
}

/**
 * hono/timeout that also cancels what the request left running. hono answers the 504 but the
 * handler keeps going, and so would its statement, holding a connection (and a write could commit
 * after the client was told it failed). The exception hook runs when the timer fires: it marks the
 * request's scope timed out, so the pool queue drops its waiting statements, refuses new ones and
 * cancels the running ones (a CancelRequest: Postgres aborts and rolls back the statement).
 */
export function requestTimeout(opts: RequestTimeoutOptions): MiddlewareHandler {
  return timeout(opts.ms, (c) => {
    const scope = c.get("stats") as RequestStats | undefined;
    if (scope) opts.pool.cancelScope(scope);
    return new HTTPException(504, {
      message:
        "the request timed out and its statements were cancelled; a write may or may not have been applied: " +
        "retry it with the same Idempotency-Key to learn its outcome",
    });
  });
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
