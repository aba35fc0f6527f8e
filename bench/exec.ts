import { readdirSync, readFileSync } from "node:fs";
import { ROOT } from "./config";

/** Runs a command to completion in the repo root; each output line goes to onLine; throws on failure. */
export async function exec(cmd: string[], env: Record<string, string | undefined>, onLine?: (line: string) => void): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      out += text;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) onLine?.(l.trim());
    }
  };
  await Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}:\n${out.slice(-2000)}`);
  return out;
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Other benchmark runs on this machine right now (they would skew every number of this one). */
export function otherBenchmarks(): string[] {
  const found: string[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid || pid === process.ppid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (/bench\/run\.ts/.test(cmd)) found.push(`${pid}: ${cmd.slice(0, 80)}`);
    } catch {
      // gone
    }
  }
  return found;
}
