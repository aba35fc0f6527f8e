import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { errorBody } from "../lib/errors";
import { errorResponse, errors, ok, openApiRouter, served } from "../lib/openapi";
import type { Deps } from "../types";

const within = <T>(p: Promise<T>, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error("timed out")), ms)));
  // Clear the timer once the probe settles: otherwise every /readyz leaves one pending for `ms`.
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
};

// A probe must reach this process, never a cache in front of it.
const noStore: MiddlewareHandler = async function noStore(c, next) {
  await next();
  c.header("cache-control", "no-store");
};

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["health"],
  summary: "Liveness: the process answers",
  middleware: [noStore],
  responses: {
    200: ok(z.object({ status: z.literal("ok"), worker: z.number().int().optional(), pid: z.number().int().optional() }), "Alive (worker and pid with WORKERS=N)"),
    ...errors(...served),
  },
});
const checks = z.record(z.string(), z.enum(["ok", "busy", "down", "unreachable"])).meta({
  description: "postgres, redis (or cache with the in-memory store) and one entry per replica",
});
const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["health"],
  summary: "Readiness: Postgres and the cache answer (a replica down does not fail it)",
  middleware: [noStore],
  responses: {
    200: ok(z.object({ status: z.literal("ready"), checks }), "Ready"),
    ...errors(...served),
    503: errorResponse(503, "not_ready (details: the checks) or shutting_down (the instance drains)"),
  },
});

/**
 * /healthz: the process answers. /readyz: its dependencies answer too (503 names the failing one;
 * a busy Postgres is reported as such, with a 200).
 */
export function healthRouter({ database, cache, reads, workers }: Deps) {
  // A worker of WORKERS=N says which one answered (all share the port).
  const alive = workers ? { status: "ok", worker: workers.id, pid: process.pid } : { status: "ok" };
  return openApiRouter()
    .openapi(healthz, (c) => c.json(alive))
    .openapi(readyz, async (c) => {
      const [pg, store] = await Promise.allSettled([within(database.ping(), 2000), within(cache.store.ping(), 1000)]);
      // The probe runs on its own connection, so it answers while user statements queue: Postgres
      // answering while the pool is saturated is "busy", still ready (every instance would be as
      // busy, and pulling them all from the load balancer at once serves nobody).
      const checks: Record<string, string> = {
        postgres: pg.status === "rejected" ? "unreachable" : database.pool.saturated ? "busy" : "ok",
        // One key whatever the store (Redis, a cluster or the in-process LRU): probes parse one shape.
        cache: store.status === "fulfilled" ? "ok" : "unreachable",
        // "ok" or "down"; a replica down never fails readiness (its reads go to the primary).
        ...reads.status(),
      };
      const failing = Object.keys(checks).filter((k) => checks[k] === "unreachable");
      if (failing.length) {
        return c.json(errorBody(c, "not_ready", `not ready: ${failing.join(", ")} unreachable`, checks), 503);
      }
      return c.json({ status: "ready", checks });
    });
}
