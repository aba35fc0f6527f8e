import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter } from "@opentelemetry/api";
import { parseKeyPairsIntoRecord, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import {
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from "@opentelemetry/semantic-conventions";
import type { Env } from "../env";
import type { RequestTrace } from "../context/request";
import type { CacheEvent, QueryEvent, RequestEvent } from "../context/telemetry";
import type { Tracer } from "./tracer";

// The OpenTelemetry SDK, loaded only when tracing is on (tracing.ts imports this dynamically).
// No global provider, context manager or propagator is registered: parents are passed explicitly
// (the request's span is kept on its RequestStats), so nothing depends on async context
// propagation under Bun. Spans end in a BatchSpanProcessor: span.end() only appends to a bounded
// queue (spans beyond it are dropped), export runs in the background with a timeout, so a slow or
// dead collector never delays or fails a request.

/** The pool wait of a statement's span (ms); the stable db conventions have no attribute for it. */
export const ATTR_POOL_WAIT_MS = "db.client.connection.wait_time_ms";

const SHUTDOWN_MS = 1000;

/** Waits for p at most ms; never rejects (spans that miss the deadline are lost, nothing else). */
const bounded = (p: Promise<void>, ms: number) =>
  Promise.race([p.catch(() => {}), new Promise<void>((r) => setTimeout(r, ms).unref())]);

interface OtelTrace extends RequestTrace {
  span: Span;
  ctx: Context;
  method: string;
}

const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

/** The sampler OTEL_TRACES_SAMPLER (+ _ARG) names, as the OpenTelemetry spec defines them. */
export function samplerFrom(env: Pick<Env, "OTEL_TRACES_SAMPLER" | "OTEL_TRACES_SAMPLER_ARG">): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(env.OTEL_TRACES_SAMPLER_ARG);
  switch (env.OTEL_TRACES_SAMPLER) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** Counts what the exporter could not deliver (a dead collector shows here and in the log, not in requests). */
function counting(exporter: SpanExporter, onFailure: (err: unknown) => void): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      exporter.export(spans, (r) => {
        if (r.code !== 0) onFailure(r.error);
        done(r);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

export function createOtelTracer(
  env: Env,
  url: string,
  onExportFailure: (err: unknown) => void = () => {},
): Tracer & { exportFailures: number } {
  const exporter = new OTLPTraceExporter({
    url,
    headers: parseKeyPairsIntoRecord(env.OTEL_EXPORTER_OTLP_HEADERS),
    timeoutMillis: env.OTEL_EXPORTER_OTLP_TIMEOUT,
  });
  let failures = 0;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME }),
    sampler: samplerFrom(env),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: counting(exporter, (err) => {
          failures++;
          onExportFailure(err);
        }),
        maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(512, env.OTEL_BSP_MAX_QUEUE_SIZE),
        scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
        exportTimeoutMillis: env.OTEL_EXPORTER_OTLP_TIMEOUT,
      }),
    ],
  });
  const tracer = provider.getTracer("hotpath");
  const propagator = new W3CTraceContextPropagator();

  /** A finished child operation, placed by its measured duration ending now. */
  const child = (t: OtelTrace, name: string, kind: SpanKind, durMs: number, attributes: Record<string, string | number>) => {
    const end = performance.now();
    const span = tracer.startSpan(name, { kind, startTime: end - durMs, attributes }, t.ctx);
    return { span, end };
  };

  return {
    get exportFailures() {
      return failures;
    },
    startRequest(req, path) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
      const method = req.method;
      const span = tracer.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path } },
        parent,
      );
      const sc = span.spanContext();
      return {
        traceId: sc.traceId,
        traceparent: `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`,
        recording: span.isRecording(),
        span,
        ctx: trace.setSpan(parent, span),
        method,
      } satisfies OtelTrace;
    },
    endRequest(t, e) {
      const { span } = t as OtelTrace;
      if (!t.recording) return;
      // Route templates only ("GET /users/:id"): a span name per URL would be unbounded.
      span.updateName(`${(t as OtelTrace).method} ${e.route}`);
      span.setAttribute(ATTR_HTTP_ROUTE, e.route);
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, e.status);
      if (e.status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(e.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
    query(t, e, name) {
      if (!t.recording) return;
      const { span, end } = child(t as OtelTrace, name, SpanKind.CLIENT, e.durMs + e.poolMs, {
        "db.system": "postgresql",
        [ATTR_DB_SYSTEM_NAME]: "postgresql",
        [ATTR_DB_OPERATION_NAME]: name,
        [ATTR_DB_QUERY_TEXT]: e.sql,
        // db.response.returned_rows: still in the incubating conventions.
        "db.response.returned_rows": e.rows,
        [ATTR_POOL_WAIT_MS]: Math.round(e.poolMs * 1000) / 1000,
      });
      if (e.error !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, e.error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end(end);
    },
    cache(t, e) {
      if (!t.recording) return;
      const tier = (e as CacheEvent & { layer?: string }).layer ?? "redis";
      const { span, end } = child(t as OtelTrace, `cache ${e.op}`, SpanKind.INTERNAL, e.durMs, {
        "cache.tier": tier,
        "cache.operation": e.op,
        "cache.result": e.result,
      });
      if (e.result === "error") span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
    },
    flush: () => bounded(provider.forceFlush(), env.OTEL_EXPORTER_OTLP_TIMEOUT),
    // At shutdown the drain budget is short (README "Shutdown"): a hung collector gets a second.
    shutdown: () => bounded(provider.shutdown(), SHUTDOWN_MS),
  };
}

