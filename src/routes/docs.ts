import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { notFound } from "../lib/errors";
import { components, conditionalRead, ErrorSchema, errorResponses, errors, notModified, ok, openApiRouter, served, textAnswer } from "../lib/openapi";
import { encodedBody, pickEncoding, sendJson } from "../lib/respond";
import type { AppEnv } from "../context/app-env";
import pkg from "../../package.json" with { type: "json" };

const DESCRIPTION = `A read-heavy JSON API over PostgreSQL with a Redis cache.

Errors have one shape (the Error schema): \`{ "error": { "code", "message", "details"? }, "requestId" }\`.
Besides the answers listed per operation, any path can answer:
- **404** \`not_found\` for a path that names no route;
- **405** \`method_not_allowed\` with \`Allow\` for a method the path does not have (before any token or body check);
- **204** with \`Allow\` to an \`OPTIONS\` that no CORS preflight answered.

Every answer carries \`X-Request-Id\` (a well-formed one the client sent is kept) and, with
INSTRUMENTATION=on, \`Server-Timing\`. Writes need \`Authorization: Bearer <JWT>\` (unless AUTH=off).`;

const swaggerDir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const swaggerVersion = JSON.parse(readFileSync(join(swaggerDir, "package.json"), "utf8")).version as string;

// A script file, not inline: the page's CSP allows scripts from 'self' only.
const INIT_JS = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

const asset = (file: string, type: string) => ({ type, load: () => Bun.file(join(swaggerDir, file)).bytes() });
/** What /docs loads, all from this service (swagger-ui-dist in node_modules): it works offline. */
const ASSETS: Record<string, { type: string; load: () => Promise<Uint8Array | string> }> = {
  "swagger-ui.css": asset("swagger-ui.css", "text/css; charset=utf-8"),
  "swagger-ui-bundle.js": asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
  "favicon-32x32.png": asset("favicon-32x32.png", "image/png"),
  "init.js": { type: "text/javascript; charset=utf-8", load: async () => INIT_JS },
};

const v = `?v=${swaggerVersion}`;
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hotpath API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css${v}">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png${v}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js${v}"></script>
<script src="/docs/init.js${v}"></script>
</body>
</html>
`;

/** Scripts and everything else from this origin only; Swagger UI sets inline styles. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const openapiRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["docs"],
  summary: "This document (OpenAPI 3.1)",
  ...conditionalRead,
  responses: { 200: ok(z.looseObject({ openapi: z.string() }), "The OpenAPI document", { etag: true }), ...notModified, ...errors(...served) },
});
const docsRoute = createRoute({
  method: "get",
  path: "/docs",
  tags: ["docs"],
  summary: "This document for people (Swagger UI, served by the service itself)",
  responses: { 200: textAnswer("The page", "text/html"), ...errors(...served) },
});
const assetRoute = createRoute({
  method: "get",
  path: "/docs/{file}",
  tags: ["docs"],
  summary: "The docs page's scripts, styles and icon (Cache-Control: a day)",
  request: { params: z.object({ file: z.string() }) },
  responses: { 200: textAnswer("The asset", "*/*"), ...errors(...served, 404) },
});

/** The document of `app`: its routes as mounted (so /metrics and /debug only when they are). */
export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "hotpath", version: pkg.version, description: DESCRIPTION },
  });
  doc.components = { ...doc.components, ...components, responses: errorResponses } as typeof doc.components;
  return doc;
}

/** GET /openapi.json (built on the first request, from every route mounted by then) and GET /docs. */
export function docsRouter(app: OpenAPIHono<AppEnv>) {
  let json: string | undefined;
  // Referenced by name (lib/openapi.ts errors()), so it must be a component of its own.
  app.openAPIRegistry.register("Error", ErrorSchema);
  const loaded = new Map<string, Uint8Array | string>();
  return openApiRouter()
    .openapi(openapiRoute, (c) => sendJson(c, (json ??= JSON.stringify(openApiDocument(app)))))
    .openapi(docsRoute, (c) => c.html(PAGE, 200, { "content-security-policy": PAGE_CSP }))
    .openapi(assetRoute, async (c) => {
      const { file } = c.req.valid("param");
      const found = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
      if (!found) throw notFound("docs asset");
      let body = loaded.get(file);
      if (body === undefined) loaded.set(file, (body = await found.load()));
      // Compressed here with the memo of compressed bodies, not per request by compress.ts: the
      // script bundle is 1.7 MB, ~60 ms of brotli that would hold up every other request.
      const encoding = pickEncoding(c, body);
      if (c.get("compression") !== undefined) {
        c.set("negotiated", true);
        c.header("Vary", "Accept-Encoding", { append: true });
      }
      const headers = { "content-type": found.type, "cache-control": "public, max-age=86400" };
      const { out } = encodedBody(c, body as Uint8Array<ArrayBuffer> | string, encoding, headers, `docs:${swaggerVersion}:${file}:${encoding}`);
      return c.body(out, 200, headers);
    });
}
