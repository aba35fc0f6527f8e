// A stand-in OpenTelemetry collector for the tracing cell: takes OTLP/HTTP exports on
// POST /v1/traces and answers as a collector does, reading (and dropping) the body. Its own process,
// so its CPU is not the service's. GET /healthz for startServer().
let sinkSpans = 0;
const sink = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 4318),
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return Response.json({ spans: sinkSpans });
    if (req.method !== "POST" || path !== "/v1/traces") return new Response("not found", { status: 404 });
    const body = (await req.json()) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
    for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) sinkSpans += ss.spans?.length ?? 0;
    return Response.json({});
  },
});
process.on("SIGTERM", () => {
  sink.stop(true);
  process.exit(0);
});
