import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { statementNames } from "./db/hot-queries";
import { idempotencyStore } from "./db/idempotency";
import { ApiError, createErrorHandler, notFoundHandler } from "./lib/errors";
import { allowedMethods } from "./middleware/allowed-methods";
import { authenticate, limitWrites } from "./middleware/authenticate";
import { cacheControl } from "./middleware/cache-control";
import { compress } from "./middleware/compress";
import { corsPolicy, timingAllowOrigin } from "./middleware/cors";
import { drainReadiness } from "./middleware/drain";
import { planCapture, planRequested } from "./middleware/plan-capture";
import { idempotency } from "./middleware/idempotency";
import { requestStats } from "./middleware/request-stats";
import { requestScope, requestTimeout } from "./middleware/request-timeout";
import { requireJson } from "./middleware/require-json";
import { tracing } from "./middleware/tracing";
import { writeLsn } from "./middleware/write-lsn";
import { createObservability } from "./obs";
import { debugRouter } from "./routes/debug";
import { docsRouter } from "./routes/docs";
import { documentsRouter } from "./routes/documents";
import { flagsRouter } from "./routes/flags";
import { healthRouter } from "./routes/health";
import { metricsRouter } from "./routes/metrics";
import { statsRouter } from "./routes/stats";
import { userDocumentsRouter } from "./routes/user-documents";
import { usersRouter } from "./routes/users";
import type { AppEnv } from "./context/app-env";
import type { Deps } from "./types";

/** How long the first answer to a write is kept under its Idempotency-Key: a day. */
const IDEMPOTENCY_TTL_S = 24 * 60 * 60;

/** Builds the app from its dependencies; index.ts only serves it, tests call app.request(). */
export function createApp(deps: Deps) {
  const { env, log } = deps;
  const app = new OpenAPIHono<AppEnv>();
  // Off means off: no subscribers, no registry, no /metrics or /debug (they answer 404).
  const obs =
    env.INSTRUMENTATION === "on"
      ? createObservability({
          env,
          telemetry: deps.telemetry,
          tracer: deps.tracer,
          log,
          statementNames: statementNames(deps.queries),
          database: deps.database,
          limits: deps.auth.limits,
          cache: deps.cache,
        })
      : undefined;

  // Order matters: requestStats wraps everything below, so errors and 404s carry Server-Timing too.
  app.use(requestId());
  app.use(cacheControl());
  if (obs) {
    app.use(
      requestStats({
        telemetry: deps.telemetry,
        capture: env.DEBUG_TOKEN ? planRequested(env.DEBUG_TOKEN) : undefined,
        timingAllowOrigin: timingAllowOrigin(env.TIMING_ALLOW_ORIGIN, env.CORS_ORIGINS),
      }),
    );
    // Traces need the per-request accounting: with INSTRUMENTATION=off there are none.
    if (deps.tracer) app.use(tracing({ tracer: deps.tracer }));
    if (env.DEBUG_TOKEN) app.use(planCapture({ database: deps.database }));
  } else app.use(requestScope());
  // Inside requestStats, so Server-Timing shows the compression (compress;dur=) and total counts it.
  app.use(compress({ minBytes: env.COMPRESS_MIN_BYTES, memoBytes: env.COMPRESS_MEMO_BYTES }));
  // Inside requestStats (preflights carry Server-Timing and are counted as "(preflight)"), before
  // the body checks and the 404 handler (a preflight has no body and matches no route).
  if (env.CORS_ORIGINS) app.use(corsPolicy({ origins: env.CORS_ORIGINS, maxAgeS: env.CORS_MAX_AGE_S }));
  // The headers that protect a JSON API; the document-only ones (XSS auditor, DNS prefetch,
  // IE download options, Flash policies, opener/agent-cluster isolation) only add bytes to every
  // response — and response headers were the largest cost of a cached read (see README).
  app.use(
    secureHeaders({
      crossOriginOpenerPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    }),
  );
  // Before the body checks and authentication: a method the path does not have is a 405 whatever
  // the token or body. /debug stays indistinguishable from an unknown path (its guard's 404).
  app.use(allowedMethods({ app, hidden: (path) => path.startsWith("/debug") }));
  app.use(requestTimeout({ ms: env.REQUEST_TIMEOUT_MS, pool: deps.database.pool, lifecycle: deps.lifecycle }));
  // Only requests that carry a body pay for the body checks; reads (the hot path) skip them.
  const withBody = ["POST", "PUT", "PATCH"];
  app.on(
    withBody,
    "*",
    bodyLimit({
      maxSize: env.BODY_LIMIT_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request body exceeds ${env.BODY_LIMIT_BYTES} bytes`);
      },
    }),
  );
  app.on(withBody, "*", requireJson());
  // After the content-type check, so a cross-site form post stays a 415 before any token work.
  // Reads never look at a token (the hot path pays nothing); GET /users/me authenticates itself.
  const writes = [...withBody, "DELETE"];
  // Idempotency after authentication (keys are scoped by the caller) and inside the timeout on
  // purpose: it waits for the handler's real outcome even after a 504.
  app.on(
    writes,
    "*",
    authenticate(deps.auth),
    limitWrites(deps.auth),
    idempotency({
      store: idempotencyStore(deps.database.db, { ttlS: IDEMPOTENCY_TTL_S, leaseMs: 2 * env.REQUEST_TIMEOUT_MS }),
    }),
  );
  if (deps.reads.replicas.length) app.on(writes, "*", writeLsn({ reads: deps.reads }));

  if (deps.lifecycle) app.use("/readyz", drainReadiness({ lifecycle: deps.lifecycle }));
  // Chained, so the typed client (hc<AppType>) knows every route; OpenAPIHono merges each router's
  // definitions into the app's document (routes/docs.ts).
  const routes = app
    .route("/", healthRouter(deps))
    .route("/users", usersRouter(deps))
    .route("/users", userDocumentsRouter(deps))
    .route("/documents", documentsRouter(deps))
    .route("/flags", flagsRouter(deps))
    .route("/", statsRouter(deps))
    .route("/", docsRouter(app));
  if (obs) {
    app.route("/", metricsRouter(obs, deps.auth, env, deps.workers));
    app.route("/debug", debugRouter(obs, deps.auth, env.DEBUG_TOKEN));
  }

  app.notFound(notFoundHandler);
  app.onError(
    createErrorHandler((err, c) => {
      const requestId = c.get("requestId");
      // A timeout is one warning, not an error: the handler's own error once its statement was
      // cancelled also comes here, after the client already has its 504.
      if (c.get("stats")?.timedOut) {
        if (err instanceof HTTPException && err.status === 504) log.warn("request timed out; its statements were cancelled", { requestId });
        return;
      }
      log.error("request failed", { requestId, err });
    }),
  );
  return routes;
}

export type App = ReturnType<typeof createApp>;
/** For hono's typed client: `hc<AppType>(url)` (the JSON API; /metrics and /debug are not in it). */
export type AppType = App;
