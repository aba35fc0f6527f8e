import type { Server } from "bun";
import type { Env } from "./env";
import type { Logger } from "./lib/log";

/** A request the shutdown deadline may have to answer (middleware/request-timeout.ts). */
export interface InFlight {
  /** Settles once the handler (and what it records, an Idempotency-Key's outcome) is done. */
  readonly handler: Promise<unknown>;
  /** Cancels its statements and answers it `503 shutting_down` now. */
  cut(): void;
}

/** Whether the process is shutting down: read by the server's fetch and the readiness probe. */
export interface Lifecycle {
  readonly draining: boolean;
  /** Requests running now; cut when SHUTDOWN_TIMEOUT_S runs out. */
  readonly inFlight: Set<InFlight>;
}

/**
 * At the deadline: how long the 503s get to be written and the cut handlers to settle (their
 * cancelled statements return at once; an Idempotency-Key then releases its claim) before the
 * remaining connections are closed and the pool ends.
 */
const ANSWER_GRACE_MS = 500;

type LifecycleEnv = Pick<Env, "HOST" | "PORT" | "SERVER_IDLE_TIMEOUT_S" | "SHUTDOWN_DRAIN_S" | "SHUTDOWN_TIMEOUT_S">;

async function closing(response: Response | Promise<Response>): Promise<Response> {
  const res = await response;
  try {
    res.headers.set("Connection", "close");
    return res;
  } catch {
    // Immutable headers (a Response built elsewhere): copy it.
    const copy = new Response(res.body, res);
    copy.headers.set("Connection", "close");
    return copy;
  }
}

export function createLifecycle(): Lifecycle & { startDraining(): void } {
  let draining = false;
  return {
    get draining() {
      return draining;
    },
    inFlight: new Set<InFlight>(),
    startDraining() {
      draining = true;
    },
  };
}

/**
 * Serves `fetch` and shuts down the way load balancers expect. On SIGTERM or SIGINT:
 * 1. drain: /readyz answers 503 `shutting_down` at once and every response carries
 *    `Connection: close`, while the listener keeps accepting for SHUTDOWN_DRAIN_S (the balancer
 *    notices and stops sending; keep-alive clients move to other instances);
 * 2. the listener closes; requests in flight get up to SHUTDOWN_TIMEOUT_S to finish;
 * 3. those still running are answered `503 shutting_down`, their statements cancelled
 *    (middleware/request-timeout.ts); after at most ANSWER_GRACE_MS for those answers to be
 *    written, connections still open are closed;
 * 4. the pool and Redis are closed (`close`), exit 0.
 * The idle timeout is derived from REQUEST_TIMEOUT_MS (env.ts), so the app's own 504 is written
 * before the server would drop a silent connection.
 */
export function serve(opts: {
  env: LifecycleEnv;
  log: Logger;
  lifecycle: ReturnType<typeof createLifecycle>;
  fetch: (req: Request, server: Server<undefined>) => Response | Promise<Response>;
  close: () => Promise<void>;
  exit?: (code: number) => void;
  /** Several processes listen on this port (WORKERS, src/workers/): the kernel balances connections. */
  reusePort?: boolean;
}) {
  const { env, log, lifecycle } = opts;
  const app = opts.fetch;
  // While draining, every answer tells keep-alive clients to leave. Otherwise one boolean check:
  // no wrapper promise on the hot path.
  const fetch = (req: Request, server: Server<undefined>) => (lifecycle.draining ? closing(app(req, server)) : app(req, server));
  const server = Bun.serve({ hostname: env.HOST, port: env.PORT, idleTimeout: env.SERVER_IDLE_TIMEOUT_S, reusePort: opts.reusePort, fetch });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) =>
    (stopping ??= (async () => {
      lifecycle.startDraining();
      log.info("shutting down: draining", { signal, drainS: env.SHUTDOWN_DRAIN_S, timeoutS: env.SHUTDOWN_TIMEOUT_S });
      await Bun.sleep(env.SHUTDOWN_DRAIN_S * 1000);
      // stop(false): no new connections, idle keep-alive ones close now, busy ones after their response.
      const finished = server.stop(false);
      log.info("listener closed", { at: Date.now(), inFlight: server.pendingRequests });
      const inTime = await Promise.race([finished.then(() => true), Bun.sleep(env.SHUTDOWN_TIMEOUT_S * 1000).then(() => false)]);
      if (!inTime) {
        const cut = [...lifecycle.inFlight];
        for (const r of cut) r.cut();
        log.warn("shutdown timeout: requests still running answered 503 shutting_down, their statements cancelled", {
          answered503: cut.length,
          inFlight: server.pendingRequests,
        });
        await Promise.race([Promise.allSettled([finished, ...cut.map((r) => r.handler)]), Bun.sleep(ANSWER_GRACE_MS)]);
        await server.stop(true);
      }
      await opts.close();
      log.info("bye");
      (opts.exit ?? process.exit)(0);
    })());
  // Both: SIGTERM from docker stop / Kubernetes (PID 1 in a container), SIGINT from a terminal.
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  return { server, shutdown };
}
