import type { CacheAside } from "./cache/cache-aside";
import type { CacheKeys } from "./cache/keys";
import type { Database } from "./db/client";
import type { Queries } from "./db/queries";
import type { ReadRouter } from "./db/replicas";
import type { Auth } from "./auth/authorize";
import type { Env } from "./env";
import type { Lifecycle } from "./lifecycle";
import type { Telemetry } from "./context/telemetry";
import type { Tracer } from "./obs/tracer";
import type { WorkerLink } from "./workers/link";
import type { Logger } from "./lib/log";

/**
 * Everything the routes need, built once in services.ts and injected (tests build their own).
 * The contract between the composition root (services.ts, app.ts) and the routes: it names the
 * modules below it, and only the routes and the root import it (test/layers.test.ts).
 */
export interface Deps {
  env: Env;
  database: Database;
  /** The table of statements (db/queries.ts) built on the primary; repositories run them. */
  queries: Queries;
  /** Reads that may go to a replica (src/db/replicas.ts). */
  reads: ReadRouter;
  cache: CacheAside;
  keys: CacheKeys;
  telemetry: Telemetry;
  /** Set when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is: exports traces (obs/tracing.ts). */
  tracer?: Tracer;
  auth: Auth;
  /** Set when served by src/lifecycle.ts: drains on shutdown. Tests calling app.request() leave it out. */
  lifecycle?: Lifecycle;
  /** Set in a worker of WORKERS=N (src/workers/link.ts): /metrics sums every worker's. */
  workers?: WorkerLink;
  /** The process's one logger (lib/log.ts, built by createServices): every line, one stream, in order. */
  log: Logger;
}
