import pino from "pino";

export type Level = "debug" | "info" | "warn" | "error" | "silent";
type Fields = Record<string, unknown>;

/** The process's logger: one JSON line per event, `{level, time, …fields, msg}`. */
export interface Logger {
  enabled(level: Exclude<Level, "silent">): boolean;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** The same destination and level, with `bindings` on every line (a component, a worker). */
  child(bindings: Fields): Logger;
  /** Writes buffered lines now: before output that bypasses the log (the startup hints). */
  flush(): void;
}

const serialize = (v: unknown): unknown =>
  v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, cause: serialize(v.cause) } : v;

/** Errors anywhere in the fields, not only under `err`, keep their name, stack and cause. */
function serializeErrors(obj: Fields): Fields {
  for (const k in obj) {
    if (obj[k] instanceof Error) {
      const out: Fields = {};
      for (const [key, v] of Object.entries(obj)) out[key] = serialize(v);
      return out;
    }
  }
  return obj;
}

// Date and toISOString once per millisecond, not per line: a busy process logs many per ms.
let lastMs = 0;
let isoTime = "";
function time(): string {
  const now = Date.now();
  if (now !== lastMs) isoTime = new Date((lastMs = now)).toISOString();
  return `,"time":"${isoTime}"`;
}

/** What pino writes into: one `write` of a whole line (with its newline) per event. */
interface Destination {
  write(line: string): void;
  flush?(cb: () => void): void;
}

// A write per line was the most expensive part of a request line in a CPU profile: lines are
// collected and written every few milliseconds, at most PIPE_BUF (4096) bytes per write, so the
// lines of WORKERS=N processes sharing one pipe never interleave within a line. Synchronous
// writes (no pino transport, no worker thread): nothing keeps the process alive, and the exit
// hooks write what is left.
let stdout: Destination | undefined;
function stdoutDestination(): Destination {
  if (stdout) return stdout;
  const out = pino.destination({ dest: 1, sync: true });
  const PIPE_BUF = 4096;
  let buf = "";
  const flush = () => {
    if (buf) out.write(buf);
    buf = "";
  };
  process.once("beforeExit", flush);
  process.once("exit", flush);
  stdout = {
    write(line) {
      if (buf === "") setTimeout(flush, 5).unref();
      else if (buf.length + line.length > PIPE_BUF) flush();
      buf += line;
    },
    flush(cb) {
      flush();
      cb();
    },
  };
  return stdout;
}

function wrap(p: pino.Logger): Logger {
  return {
    enabled: (level) => p.isLevelEnabled(level),
    debug: (msg, f) => (f ? p.debug(f, msg) : p.debug(msg)),
    info: (msg, f) => (f ? p.info(f, msg) : p.info(msg)),
    warn: (msg, f) => (f ? p.warn(f, msg) : p.warn(msg)),
    error: (msg, f) => (f ? p.error(f, msg) : p.error(msg)),
    child: (bindings) => wrap(p.child(bindings)),
    flush: () => p.flush(),
  };
}

/**
 * The logger (pino) at `level`, writing to stdout or, in tests, to `write` (one line without
 * its newline per call). Build it once per process (services.ts) and pass it on: every line
 * then goes through one stream, in the order it was logged.
 */
export function logger(level: Level, write?: (line: string) => void): Logger {
  const destination = write ? { write: (line: string) => write(line.slice(0, -1)) } : stdoutDestination();
  return wrap(
    pino(
      {
        level,
        base: null,
        timestamp: time,
        formatters: { level: (label) => ({ level: label }), log: serializeErrors },
        // serializeErrors has already made `err` plain; pino's own err serializer would rename it.
        serializers: { err: (v: unknown) => v },
      },
      destination,
    ),
  );
}
