import type { MiddlewareHandler } from "hono";
import { errorBody } from "../lib/errors";
import type { Lifecycle } from "../lifecycle";

/**
 * While the process drains before it stops: /readyz answers 503 `shutting_down` (the balancer
 * takes this instance out), and every response carries `Connection: close` so keep-alive clients
 * reconnect elsewhere instead of sending their next request into a closing listener.
 * Off the drain, one boolean check per request.
 */
export function drain(opts: { lifecycle: Lifecycle; readinessPath?: string }): MiddlewareHandler {
  const { lifecycle } = opts;
  const readiness = opts.readinessPath ?? "/readyz";
  return async function drain(c, next) {
    if (!lifecycle.draining) return next();
    if (c.req.path === readiness) {
      c.res = c.json(errorBody(c, "shutting_down", "shutting down: send traffic to another instance"), 503);
    } else await next();
    c.res.headers.set("Connection", "close");
  };
}
