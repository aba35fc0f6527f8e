import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorDetail {
  location?: "param" | "query" | "json" | "header";
  path: string;
  message: string;
}

/** The one error every handler throws; the one shape every client parses. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Response headers that belong to this error (WWW-Authenticate, Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);
export const forbidden = (message: string) => new ApiError(403, "forbidden", message);

export function errorBody(c: Context, code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details }, requestId: c.get("requestId") ?? null };
}

const httpCodes: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  // One code per status, so a client can tell a slow request (408), a statement the database
  // cancelled (503 statement_timeout) and a request that ran out of REQUEST_TIMEOUT_MS (504) apart.
  408: "request_timeout",
  412: "precondition_failed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  503: "unavailable",
  504: "timeout",
};

/** Driver errors that mean "Postgres is unreachable": the client may retry, it is not a bug. */
const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin shutdown
  "57P03", // cannot connect now (starting up)
]);

/**
 * The constraints (drizzle/*.sql) a request's input can break, by name: the field that names the
 * value, so a 409/422 points at it like a validation error does.
 */
const CONSTRAINT_FIELDS: Record<string, { message: string; detail: ErrorDetail }> = {
  users_email_key: { message: "a user with this email already exists", detail: { location: "json", path: "email", message: "already taken" } },
  documents_user_id_users_id_fk: {
    message: "userId does not name an existing user",
    detail: { location: "json", path: "userId", message: "no such user" },
  },
};

/**
 * The one mapping of Postgres errors to API errors: the caller's fault by SQLSTATE (and
 * constraint), or the database being away; anything else is ours (500). Repositories let driver
 * errors through, so every route answers a given Postgres error the same way.
 */
function fromPostgres(err: { code?: string; constraint_name?: string; constraint?: string }): ApiError | undefined {
  if (err.code && CONNECTION_ERRORS.has(err.code)) {
    return new ApiError(503, "unavailable", "the database is unreachable; try again");
  }
  const known = CONSTRAINT_FIELDS[err.constraint_name ?? err.constraint ?? ""];
  switch (err.code) {
    case "23503": // foreign key: the input names a row that does not exist
      return new ApiError(422, "unknown_reference", known?.message ?? "a referenced resource does not exist", known && [known.detail]);
    case "23505":
      return new ApiError(409, "conflict", known?.message ?? "a resource with this unique value already exists", known && [known.detail]);
    case "22P02":
    case "22003":
    case "22007":
    case "22008":
    case "22009": // time zone displacement out of range (e.g. a year JS prints as "+275760")
    case "22021": // character not in repertoire: a NUL (\u0000) in a text value
    case "22P05": // untranslatable character: "\u0000" inside a jsonb value
      return new ApiError(400, "bad_request", "a value is out of range or malformed");
    case "57014":
      return new ApiError(503, "statement_timeout", "the database took too long to answer; try again");
    case "53300":
      return new ApiError(503, "unavailable", "the database is busy; try again");
  }
  return undefined;
}

/**
 * Reading the body failed because the connection is gone: a malformed chunked body (Bun answers
 * it 400 itself and closes) or a client that left mid-body. The client's doing, not a bug.
 */
const bodyUnreadable = (err: unknown, c: Context) =>
  (err as { name?: string }).name === "AbortError" && c.req.raw.signal.aborted;

export function createErrorHandler(log: (err: unknown, c: Context) => void): ErrorHandler {
  return function onError(err, c) {
    let e: ApiError | undefined;
    // drizzle wraps what the driver throws (DrizzleQueryError): the pool queue's ApiErrors
    // (pool_exhausted, a timed-out request) arrive as its cause.
    const cause = (err as { cause?: unknown }).cause;
    if (err instanceof ApiError) e = err;
    else if (bodyUnreadable(err, c)) e = new ApiError(400, "bad_request", "the request body could not be read (malformed chunked encoding, or the connection closed)");
    else if (cause instanceof ApiError) e = cause;
    else if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      e = new ApiError(status, httpCodes[status] ?? (status >= 500 ? "internal" : "bad_request"), err.message || "request failed");
    } else e = fromPostgres((err as { cause?: object }).cause ?? (err as object));
    if (!e || e.status >= 500) log(err, c);
    // 5xx text is generic on purpose: no SQL, stack or driver message reaches the client.
    if (!e) return c.json(errorBody(c, "internal", "internal server error"), 500);
    return c.json(errorBody(c, e.code, e.message, e.details), e.status, e.headers);
  };
}

export const notFoundHandler: NotFoundHandler = (c) => {
  c.set("unmatched", true);
  return c.json(errorBody(c, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
};
