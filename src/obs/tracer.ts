import type { RequestTrace } from "../context/request";
import type { CacheEvent, QueryEvent, RequestEvent } from "../context/telemetry";

// What the app sees of tracing (made by otel.ts, loaded by tracing.ts). Its own module so that
// otel.ts can implement it without importing tracing.ts, which imports otel.ts.

export interface Tracer {
  /** Opens the server span; continues the trace of an incoming `traceparent`. `path`: the URL's path. */
  startRequest(req: Request, path: string): RequestTrace;
  endRequest(trace: RequestTrace, e: RequestEvent): void;
  /** A statement's span under the request's; `name` is the statement name or kind (normalize.ts). */
  query(trace: RequestTrace, e: QueryEvent, name: string): void;
  cache(trace: RequestTrace, e: CacheEvent): void;
  /** Exports what is queued (tests, shutdown); never throws. */
  flush(): Promise<void>;
  /** Exports that failed (collector down, refused, timed out): their spans are lost, requests are not. */
  readonly exportFailures: number;
  shutdown(): Promise<void>;
}
