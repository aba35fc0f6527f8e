import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { etag } from "hono/etag";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { timeout } from "hono/timeout";
import { timing } from "hono/timing";
import { ApiError, createErrorHandler, notFoundHandler } from "./lib/errors";
import { logger } from "./lib/log";
import { requestStats } from "./middleware/request-stats";
import { requireJson } from "./middleware/require-json";
import { documentsRouter } from "./routes/documents";
import { flagsRouter } from "./routes/flags";
import { healthRouter } from "./routes/health";
import { statsRouter } from "./routes/stats";
import { userDocumentsRouter } from "./routes/user-documents";
import { usersRouter } from "./routes/users";
import type { AppEnv, Deps } from "./types";

/** Builds the app from its dependencies; index.ts only serves it, tests call app.request(). */
export function createApp(deps: Deps) {
  const { env } = deps;
  const log = logger(env.LOG_LEVEL);
  const app = new Hono<AppEnv>();

  // Order matters: timing wraps everything so even errors and 404s carry Server-Timing.
  app.use(requestId());
  if (env.INSTRUMENTATION === "on") {
    app.use(timing({ crossOrigin: env.TIMING_ALLOW_ORIGIN ?? false, totalDescription: "total" }));
    app.use(requestStats({ telemetry: deps.telemetry }));
  }
  app.use(secureHeaders());
  app.use(timeout(env.REQUEST_TIMEOUT_MS));
  app.use(etag());
  app.use(
    bodyLimit({
      maxSize: env.BODY_LIMIT_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request body exceeds ${env.BODY_LIMIT_BYTES} bytes`);
      },
    }),
  );
  app.use(requireJson());

  app.route("/", healthRouter(deps));
  app.route("/users", usersRouter(deps));
  app.route("/users", userDocumentsRouter(deps));
  app.route("/documents", documentsRouter(deps));
  app.route("/flags", flagsRouter(deps));
  app.route("/", statsRouter(deps));

  app.notFound(notFoundHandler);
  app.onError(createErrorHandler((err, c) => log.error("request failed", { requestId: c.get("requestId"), err })));
  return app;
}

export type App = ReturnType<typeof createApp>;
