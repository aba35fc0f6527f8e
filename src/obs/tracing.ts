import type { Env } from "../env";
import type { Tracer } from "./tracer";

// Traces over OTLP/HTTP, on when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.
// This module is all the hot path sees: the OpenTelemetry SDK lives in otel.ts and is imported
// dynamically, only when an endpoint is configured. Spans are made by hand from the telemetry the
// app already emits (context/telemetry.ts): a server span per request (middleware/tracing.ts starts it,
// the request event ends it), and a child span per statement and per cache operation, placed
// after the fact from their measured durations (Bun's auto-instrumentation is unreliable).

/** The OTLP/HTTP traces URL the standard variables name, or undefined (tracing off). */
export function tracesUrl(env: Pick<Env, "OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT">): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined;
}

/** The tracer for this env, or undefined without an endpoint (then the SDK is never loaded). */
export async function loadTracer(env: Env, onExportFailure?: (err: unknown) => void): Promise<Tracer | undefined> {
  const url = tracesUrl(env);
  if (!url) return undefined;
  const { createOtelTracer } = await import("./otel");
  return createOtelTracer(env, url, onExportFailure);
}
