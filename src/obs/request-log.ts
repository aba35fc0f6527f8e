import { logger, type Level } from "../lib/log";
import type { RequestEvent } from "../context/telemetry";

// The one log line per request, in the same shape as lib/log.ts lines ({time, level, msg, …}).
// Built by hand rather than through logger(): it runs on every request, and the generic path
// (object spread, Object.entries, a Date and JSON.stringify per line) costs several times more.
// On stdout, lines are written in batches every few milliseconds: one write for many requests
// (a write per line was the single most expensive part of the line in a CPU profile).

const r2 = (ms: number) => Math.round(ms * 100) / 100;
const SAFE_ID = /^[\w=-]{1,255}$/;

let stdoutSink: ((line: string) => void) | undefined;

/** One per process: every app's lines share the buffer and the exit hooks. */
function batchedStdout(): (line: string) => void {
  if (stdoutSink) return stdoutSink;
  let buf = "";
  const flush = () => {
    if (buf) process.stdout.write(buf);
    buf = "";
  };
  process.once("beforeExit", flush);
  process.once("exit", flush);
  stdoutSink = (line) => {
    if (buf === "") setTimeout(flush, 5).unref();
    buf += `${line}\n`;
    if (buf.length > 64 * 1024) flush();
  };
  return stdoutSink;
}

/** A writer of request lines, or undefined when LOG_LEVEL is above info (nothing to do). */
export function requestLogger(level: Level, write?: (line: string) => void): ((e: RequestEvent) => void) | undefined {
  if (!logger(level).enabled("info")) return undefined;
  const sink = write ?? batchedStdout();
  let lastMs = 0;
  let iso = "";
  // Method and route strings repeat (route templates come from the code): quote each once.
  const quoted = new Map<string, string>();
  const q = (s: string) => {
    let out = quoted.get(s);
    if (out === undefined) {
      out = JSON.stringify(s);
      if (quoted.size < 1000) quoted.set(s, out);
    }
    return out;
  };
  return function requestLine(e) {
    const now = Date.now();
    if (now !== lastMs) iso = new Date((lastMs = now)).toISOString();
    const s = e.stats;
    // hono's requestId middleware only keeps ids of [\w=-]; checked anyway, it is cheaper than stringify.
    const id = !s.requestId ? "null" : SAFE_ID.test(s.requestId) ? `"${s.requestId}"` : JSON.stringify(s.requestId);
    sink(
      `{"time":"${iso}","level":"info","msg":"request","requestId":${id},` +
        `"method":${q(e.method)},"route":${q(e.route)},"status":${e.status},` +
        `"totalMs":${r2(e.totalMs)},"dbMs":${r2(s.dbMs)},"poolMs":${r2(s.poolMs)},"queries":${s.queries},` +
        `"cache":${s.cacheResult ? `"${s.cacheResult}"` : "null"}` +
        // The trace id as OpenTelemetry's log data model names it, so an APM links line and trace.
        (s.trace ? `,"trace_id":"${s.trace.traceId}"}` : "}"),
    );
  };
}
