import type { Subprocess } from "bun";

/**
 * A port the OS hands out, released for a child process to take. (A random pick could land on a
 * port another test's server, or a connection's local end, holds under parallel load.)
 */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Starts `bun run src/index.ts` with the given env; resolves once it logs that it listens. */
export async function startService(env: Record<string, string>, timeoutMs = 80_000) {
  const port = freePort();
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !["DATABASE_URL", "REDIS_URL", "PORT", "LOG_LEVEL"].includes(k)),
  ) as Record<string, string>;
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(["bun", "run", "src/index.ts"], {
    env: { ...clean, PORT: String(port), HOST: "127.0.0.1", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  while (!output.includes("listening on")) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (!chunk || chunk.done) {
      proc.kill();
      throw new Error(`service did not start:\n${output}\n${await new Response(proc.stderr).text()}`);
    }
    output += decoder.decode(chunk.value);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const rest = (async () => {
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      output += decoder.decode(c.value);
    }
  })();
  return {
    proc,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      proc.kill(signal);
      const code = await proc.exited;
      await rest;
      return code;
    },
  };
}
