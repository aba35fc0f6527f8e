import type { MiddlewareHandler } from "hono";
import { LSN_HEADER, type ReadRouter } from "../db/replicas";

/**
 * With replicas: a successful write answers with Hotpath-LSN, the primary's WAL position once it
 * committed. A client that sends it back on its reads is never answered by a replica that has not
 * replayed that far (read-your-writes; src/db/replicas.ts). Without replicas: nothing, no cost.
 */
export function writeLsn(opts: { reads: ReadRouter }): MiddlewareHandler {
  const { reads } = opts;
  return async function writeLsn(c, next) {
    await next();
    if (c.res.status >= 400) return;
    c.header(LSN_HEADER, await reads.primaryLsn());
  };
}
