import type { RequestIdVariables } from "hono/request-id";
import type { CacheAside } from "./cache/cache-aside";
import type { CacheKeys } from "./cache/keys";
import type { Database } from "./db/client";
import type { Queries } from "./db/queries";
import type { Env } from "./env";
import type { Lifecycle } from "./lifecycle";
import type { RequestStats } from "./obs/context";
import type { Telemetry } from "./obs/events";

/** Everything the routes need, built once in services.ts and injected (tests build their own). */
export interface Deps {
  env: Env;
  database: Database;
  queries: Queries;
  cache: CacheAside;
  keys: CacheKeys;
  telemetry: Telemetry;
  /** Set when served by src/lifecycle.ts: drains on shutdown. Tests calling app.request() leave it out. */
  lifecycle?: Lifecycle;
  /** Where log lines go (default stdout); tests pass a collector. */
  logWrite?: (line: string) => void;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
      stats: RequestStats;
      unmatched: boolean;
    };
};
