import type { Logger } from "../lib/log";
import type { RequestEvent } from "../context/telemetry";

// The one log line per request, through the process's logger: same stream as every other line,
// in order (README "Request log").

const r2 = (ms: number) => Math.round(ms * 100) / 100;

/** A writer of request lines, or undefined when the logger is above info (nothing to do). */
export function requestLogger(log: Logger): ((e: RequestEvent) => void) | undefined {
  if (!log.enabled("info")) return undefined;
  return function requestLine(e) {
    const s = e.stats;
    log.info("request", {
      requestId: s.requestId || null,
      method: e.method,
      route: e.route,
      status: e.status,
      totalMs: r2(e.totalMs),
      dbMs: r2(s.dbMs),
      poolMs: r2(s.poolMs),
      queries: s.queries,
      cache: s.cacheResult ?? null,
      // The trace id as OpenTelemetry's log data model names it, so an APM links line and trace.
      trace_id: s.trace?.traceId,
    });
  };
}
