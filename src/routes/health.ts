import { Hono, type MiddlewareHandler } from "hono";
import { errorBody } from "../lib/errors";
import type { AppEnv, Deps } from "../types";

const within = <T>(p: Promise<T>, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error("timed out")), ms)));
  // Clear the timer once the probe settles: otherwise every /readyz leaves one pending for `ms`.
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
};

const noStore: MiddlewareHandler = async function noStore(c, next) {
  await next();
  c.header("cache-control", "no-store");
};

/**
 * /healthz: the process answers. /readyz: its dependencies answer too (503 names the failing one;
 * a busy Postgres is reported as such, with a 200).
 */
export function healthRouter({ database, cache, reads, workers }: Deps) {
  // A worker of WORKERS=N says which one answered (all share the port).
  const alive = workers ? { status: "ok", worker: workers.id, pid: process.pid } : { status: "ok" };
  return new Hono<AppEnv>()
    // A probe must reach this process, never a cache in front of it.
    .use("/healthz", noStore)
    .use("/readyz", noStore)
    .get("/healthz", (c) => c.json(alive))
    .get("/readyz", async (c) => {
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
