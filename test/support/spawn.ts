import type { Subprocess } from "bun";
import { TEST_JWT_SECRET } from "./auth";

/**
 * Starts `bun run src/index.ts` with the given env on a port the OS hands out (PORT=0, read back
 * from the startup line); resolves once it listens. On any setup failure the process is killed.
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
  const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
  while (!listening.test(output)) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (!chunk || chunk.done) {
      proc.kill("SIGKILL");
      throw new Error(`service did not start:\n${output}\n${await new Response(proc.stderr).text()}`);
    }
    output += decoder.decode(chunk.value);
  }
  const port = Number(listening.exec(output)![1]);
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
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    /** Resolves once the output contains `text` (or the process exited). */
    async waitFor(text: string) {
      while (!output.includes(text) && proc.exitCode === null) await Bun.sleep(10);
      return output.includes(text);
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      proc.kill(signal);
      const code = await proc.exited;
      await rest;
      return code;
    },
  };
}
