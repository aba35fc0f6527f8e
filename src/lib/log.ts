const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;
export type Level = keyof typeof levels;

const serialize = (v: unknown): unknown =>
  v instanceof Error ? { name: v.name, message: v.message, stack: v.stack, cause: serialize(v.cause) } : v;

/** One JSON line per event on stdout: cheap, greppable, and what log shippers expect. */
export function logger(level: Level, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  const min = levels[level];
  const emit = (lvl: Exclude<Level, "silent">, msg: string, fields?: Record<string, unknown>) => {
    if (levels[lvl] < min) return;
    const out: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) out[k] = serialize(v);
    write(JSON.stringify(out));
  };
  return {
    enabled: (lvl: Exclude<Level, "silent">) => levels[lvl] >= min,
    debug: (msg: string, f?: Record<string, unknown>) => emit("debug", msg, f),
    info: (msg: string, f?: Record<string, unknown>) => emit("info", msg, f),
    warn: (msg: string, f?: Record<string, unknown>) => emit("warn", msg, f),
    error: (msg: string, f?: Record<string, unknown>) => emit("error", msg, f),
  };
}
export type Logger = ReturnType<typeof logger>;
