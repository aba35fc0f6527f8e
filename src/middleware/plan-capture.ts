import type { Context, MiddlewareHandler, Next } from "hono";
import type { Database } from "../db/client";
import { requestStore } from "../context/request";
import { explainJson } from "../obs/pg-explain";
import { debugAuthorized } from "../auth/static-token";

type Db = Pick<Database, "db" | "kind">;

/**
 * For requestStats' `capture` option: a GET asking for its plans (`X-Debug-Plan: 1`) with the
 * right DEBUG_TOKEN. Anything else, including the header without the token, is a normal request.
 */
export const planRequested = (token: string | undefined) => (c: Context) =>
  token !== undefined && c.req.method === "GET" && c.req.header("x-debug-plan") === "1" && debugAuthorized(c, token);

/**
 * Answers a captured request with the statements it ran and their EXPLAIN (ANALYZE) plans instead
 * of its body, like PostgREST's `Accept: application/vnd.pgrst.plan`. Mount after requestStats
 * (which records the statements). GETs only, so re-running them for ANALYZE changes nothing; a
 * cache hit ran no statement and answers an empty list.
 */
export function planCapture(opts: { database: Db }): MiddlewareHandler {
  // Not async: an uncaptured request passes straight through without an extra promise.
  return function planCapture(c, next) {
    return c.get("stats")?.captureStatements ? answerWithPlans(c, next, opts.database) : next();
  };
}

async function answerWithPlans(c: Context, next: Next, database: Db): Promise<void> {
  await next();
  const ran = c.get("stats").statements.slice();
  const original = c.res.status;
  // Outside the request's accounting: the EXPLAINs are not statements the request ran.
  const statements = await requestStore.exit(async () => {
    const out = [];
    for (const s of ran) {
      let plan: unknown;
      try {
        plan = await explainJson(database, s.sql, s.params, "ANALYZE");
      } catch (err) {
        plan = { error: (err as Error).message };
      }
      out.push({ sql: s.sql, params: s.params, durMs: Math.round(s.durMs * 1000) / 1000, rows: s.rows, plan });
    }
    return out;
  });
  const requestId = c.res.headers.get("x-request-id");
  c.res = undefined;
  c.res = new Response(JSON.stringify({ status: original, statements }), {
    status: 200,
    headers: {
      "content-type": "application/json; charset=UTF-8",
      "cache-control": "no-store",
      ...(requestId ? { "x-request-id": requestId } : {}),
    },
  });
}
