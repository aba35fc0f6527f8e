import type { MiddlewareHandler } from "hono";
import { errorBody } from "../lib/errors";
import type { Lifecycle } from "../lifecycle";

/**
 * Mounted on the readiness path only: while the process drains before it stops, the probe answers
 * 503 `shutting_down` so the balancer takes this instance out, whatever the dependencies say.
 * (`Connection: close` on every response is set in lifecycle.ts, outside the app, so the hot path
 * carries no extra middleware layer for it.)
 */
export function drainReadiness(opts: { lifecycle: Lifecycle }): MiddlewareHandler {
  const { lifecycle } = opts;
  return async function drainReadiness(c, next) {
    if (!lifecycle.draining) return next();
    return c.json(errorBody(c, "shutting_down", "shutting down: send traffic to another instance"), 503);
  };
}
