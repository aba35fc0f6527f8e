import type { RequestIdVariables } from "hono/request-id";
import type { CacheAside } from "./cache/cache-aside";
import type { CacheKeys } from "./cache/keys";
import type { Database } from "./db/client";
import type { Queries } from "./db/queries";
import type { ReadRouter } from "./db/replicas";
import type { Limits } from "./auth/limits";
import type { KeySource } from "./auth/secret";
import type { Verify } from "./auth/verify";
import type { Env } from "./env";
import type { Lifecycle } from "./lifecycle";
import type { RequestStats } from "./obs/context";
import type { Telemetry } from "./obs/events";
import type { Tracer } from "./obs/tracing";
import type { WorkerLink } from "./workers/link";
import type { Compression } from "./lib/encoding";

/** Everything the routes need, built once in services.ts and injected (tests build their own). */
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
  /** Where log lines go (default stdout); tests pass a collector. */
  logWrite?: (line: string) => void;
}

/** Authentication as configured at startup (src/auth/). */
export interface Auth {
  source: KeySource;
  /** undefined with AUTH=off: every write runs as TRUSTED_IDENTITY. */
  verify?: Verify;
  limits: Limits;
}

/**
 * The verified caller, set as c.var.auth by the authenticate middleware (every write, GET
 * /users/me, an admin JWT on /metrics and /debug). Reads do not look at tokens, so on a public
 * GET it is undefined.
 * - sub: the token's `sub`, a user id in decimal ("0" = an operator that is no user).
 * - userId: Number(sub).
 * - admin: the token has `role: "admin"`.
 */
export interface AuthIdentity {
  sub: string;
  userId: number;
  admin: boolean;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
      stats: RequestStats;
      unmatched: boolean;
      /** A CORS preflight answered by the cors middleware (counted as its own route). */
      preflight: boolean;
      auth?: AuthIdentity;
      /** Set by middleware/compress.ts (absent: nothing is compressed). */
      compression?: Compression;
      /** The response's coding was already chosen (lib/respond.ts); compress.ts leaves it alone. */
      negotiated?: boolean;
    };
};
