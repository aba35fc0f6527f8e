import type { MiddlewareHandler } from "hono";
import type { Tracer } from "../obs/tracer";
import type { AppEnv } from "../context/app-env";

export interface TracingOptions {
  tracer: Tracer;
}

/**
 * Opens the request's server span (continuing an incoming W3C traceparent) and keeps it on the
 * request's stats, where the statement and cache spans find their parent and Server-Timing its
 * traceparent entry. Registered right inside requestStats; the finished-request event ends the span.
 */
export function tracing(opts: TracingOptions): MiddlewareHandler<AppEnv> {
  const { tracer } = opts;
  return function tracing(c, next) {
    c.get("stats").trace = tracer.startRequest(c.req.raw, c.req.path);
    return next();
  };
}
