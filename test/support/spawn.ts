import type { Subprocess } from "bun";
import { TEST_JWT_SECRET } from "./auth";

/**
 * Starts `bun run src/index.ts` with the given env on a port the OS hands out; resolves once it
 * logs that it listens (the URL is read from that line).
 */
export async function startService(env: Record<string, string>, timeoutMs = 80_000) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !["DATABASE_URL", "REDIS_URL", "PORT", "LOG_LEVEL"].includes(k)),
  ) as Record<string, string>;
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(["bun", "run", "src/index.ts"], {
    // The test secret unless the caller asks for the embedded default (JWT_SECRET: ""): a
    // generated secret would otherwise land in the working tree's ./.data.
    env: { ...clean, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: TEST_JWT_SECRET, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  let listening: RegExpMatchArray | null = null;
  while (!(listening = output.match(/listening on (http:\/\/[^\s"]+)/))) {
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
    url: listening[1]!,
    output: () => output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      proc.kill(signal);
      const code = await proc.exited;
      await rest;
      return code;
    },
  };
}
