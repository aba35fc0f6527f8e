import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AppEnv } from "../context/app-env";
import { validationHook } from "./validate";

/**
 * A router whose routes are defined once (@hono/zod-openapi's createRoute): the same zod schemas
 * validate the request and describe it in GET /openapi.json. Failed validation answers the one
 * error shape (lib/validate.ts), whichever router the route is on.
 */
export const openApiRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** The one error shape (lib/errors.ts errorBody), a component of the document. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "Stable, machine-readable: the README's error-code table" }),
      message: z.string().meta({ description: "For people; may change" }),
      details: z.unknown().optional().meta({ description: "validation_failed: [{ location, path, message }] per field" }),
    }),
    requestId: z.string().nullable().meta({ description: "The X-Request-Id of this request" }),
  })
  .meta({ id: "Error" });

const ref = (kind: "headers" | "parameters", name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** Components every document carries: the shared headers and parameters, and the auth schemes. */
export const components = {
  headers: {
    "X-Request-Id": {
      description: "This request's id (the client's X-Request-Id if it sent one); also in the log lines and error bodies",
      schema: { type: "string" },
    },
    "Server-Timing": {
      description: "Where the time went (db, cache, compress, total: ms) — with INSTRUMENTATION=on (the default)",
      schema: { type: "string" },
    },
    ETag: {
      description: "Weak validator of the representation: send it back as If-None-Match (304) or If-Match (412 when it changed)",
      schema: { type: "string" },
    },
    Location: { description: "The created resource", schema: { type: "string" } },
    Allow: { description: "The methods the path has", schema: { type: "string" } },
    "Retry-After": { description: "Seconds to wait before trying again", schema: { type: "string" } },
    "WWW-Authenticate": { description: "The Bearer challenge (RFC 6750)", schema: { type: "string" } },
  },
  parameters: {
    IfNoneMatch: {
      name: "If-None-Match",
      in: "header",
      required: false,
      description: "An ETag from an earlier answer: 304 without a body while it still matches",
      schema: { type: "string" },
    },
    IfMatch: {
      name: "If-Match",
      in: "header",
      required: false,
      description: "The ETag of the GET this write is based on: 412 if the resource changed since",
      schema: { type: "string" },
    },
    IdempotencyKey: {
      name: "Idempotency-Key",
      in: "header",
      required: false,
      description: "1 to 255 printable ASCII characters: a retry with the same key gets the first answer again (Idempotent-Replayed: true)",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    },
    HotpathLSN: {
      name: "Hotpath-LSN",
      in: "header",
      required: false,
      description: "The Hotpath-LSN a write returned: a replica answers only once it has replayed that write",
      schema: { type: "string" },
    },
  },
  securitySchemes: {
    bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A JWT (HS256 with JWT_SECRET, or from JWKS_URL); role=admin for admin routes" },
    operatorToken: {
      type: "http",
      scheme: "bearer",
      description: "METRICS_TOKEN (for /metrics) or DEBUG_TOKEN (for /debug), or an admin JWT",
    },
  },
} as const;

/** Headers on every answer, errors included. */
const always = { "X-Request-Id": ref("headers", "X-Request-Id"), "Server-Timing": ref("headers", "Server-Timing") };

const errorText = {
  400: "validation_failed (details name each field) or bad_request (a value Postgres refuses, an unreadable body)",
  401: "unauthorized: no token or an invalid one (WWW-Authenticate says which)",
  403: "forbidden: the token is valid but not allowed this",
  404: "not_found",
  405: "method_not_allowed: the path has no such method (Allow lists the ones it has); answered before any token or body check",
  409: "conflict (a unique value taken) or idempotency_in_progress (the same Idempotency-Key is still running)",
  412: "precondition_failed: If-Match names another version",
  413: "payload_too_large: the body exceeds BODY_LIMIT_BYTES",
  415: "unsupported_media_type: a body that is not application/json",
  422: "idempotency_key_reused (the key was used for another request) or unknown_reference",
  429: "rate_limited: too many writes, or too many refused tokens from this address (Retry-After)",
  500: "internal: a bug (the details are in the log under the requestId, never in the body)",
  503: "unavailable, pool_exhausted or timeout: the database or Redis is unreachable or busy; try again (shutting_down while the instance drains)",
  504: "timeout: REQUEST_TIMEOUT_MS passed; the request's statements were cancelled",
} as const;
type ErrorStatus = keyof typeof errorText;

const extraHeaders: Partial<Record<ErrorStatus, Record<string, ReturnType<typeof ref>>>> = {
  401: { "WWW-Authenticate": ref("headers", "WWW-Authenticate") },
  405: { Allow: ref("headers", "Allow") },
  409: { "Retry-After": ref("headers", "Retry-After") },
  429: { "Retry-After": ref("headers", "Retry-After") },
  503: { "Retry-After": ref("headers", "Retry-After") },
};

/** An error answer described inline, for a route whose reasons for it are its own. */
export const errorResponse = (status: ErrorStatus, description: string = errorText[status]) => ({
  description,
  headers: { ...always, ...extraHeaders[status] },
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** components.responses: one per error status, each the Error body (referenced by errors()). */
export const errorResponses = Object.fromEntries(
  (Object.keys(errorText) as unknown as ErrorStatus[]).map((s) => [`Error${s}`, errorResponse(Number(s) as ErrorStatus)]),
);

/**
 * The error answers of a route: `...errors(400, 404)`. References, not inline bodies: one
 * description per status, and the handlers keep returning plain Responses (a route whose every
 * answer has an inline zod body must return typed c.json() only).
 */
export function errors<S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/Error${s}` }])) as { [K in S]: { $ref: string } };
}

/** Every route: a bug, or the request timeout. */
export const served = [500, 504] as const;
/** Routes that reach Postgres or Redis. */
export const stored = [...served, 503] as const;
/**
 * Every write (POST, PUT, PATCH, DELETE), from the write chain in app.ts: the token (401, 429
 * after too many refused ones), the per-caller write limit (429), Idempotency-Key (400, 409, 422).
 */
export const writes = [...stored, 400, 401, 403, 409, 422, 429] as const;
/** Writes with a body: the body limit and the content type, before any token work. */
export const bodyWrites = [...writes, 413, 415] as const;

/** A required JSON request body (app.ts already refused any other content type with a 415). */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

/** A success answer; `etag` for the reads sendJson (lib/respond.ts) answers. */
export function ok<T extends z.ZodType>(schema: T, description: string, opts: { etag?: boolean; location?: boolean } = {}) {
  return {
    description,
    headers: {
      ...always,
      ...(opts.etag ? { ETag: ref("headers", "ETag") } : {}),
      ...(opts.location ? { Location: ref("headers", "Location") } : {}),
    },
    content: { "application/json": { schema } },
  };
}

/** A success answer whose body is text of `mediaType` (not JSON). */
export const textAnswer = (description: string, mediaType: string) => ({
  description,
  headers: always,
  content: { [mediaType]: { schema: { type: "string" as const } } },
});

/** A 304 (If-None-Match still matches) or 204: no body. */
export const empty = (description: string) => ({ description, headers: always });

/** A read that sendJson answers: its ETag, If-None-Match and the 304. */
export const conditionalRead = { parameters: [ref("parameters", "IfNoneMatch")] };
export const notModified = { 304: { description: "Not Modified: If-None-Match still matches (no body)", headers: { ...always, ETag: ref("headers", "ETag") } } };

/** A write: bearer auth and the Idempotency-Key header; `ifMatch` for the ones that honour it. */
export const authenticated = { security: [{ bearer: [] }] };
export const writeParameters = (opts: { ifMatch?: boolean } = {}) => ({
  parameters: [ref("parameters", "IdempotencyKey"), ...(opts.ifMatch ? [ref("parameters", "IfMatch")] : [])],
});
export const lsnParameter = ref("parameters", "HotpathLSN");
