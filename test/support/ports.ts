import { createServer } from "node:net";

// Ports for processes the tests start. Never random picks in the kernel's ephemeral range
// (32768–60999 on Linux): a client socket may hold one, and the server then fails with
// "Address already in use". Either the OS hands the port out, or it is below that range.

const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });

/**
 * A port below the ephemeral range that nothing listens on now (checked by binding it), with
 * each of `port + offset` free too (a Redis Cluster node also listens on port + 10000).
 * Another process may still take it before the caller binds: callers retry on that.
 */
export async function freeLowPort(opts: { offsets?: number[]; count?: number } = {}): Promise<number> {
  const offsets = opts.offsets ?? [];
  const count = opts.count ?? 1;
  const max = 32767 - Math.max(0, ...offsets) - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 10000 + Math.floor(Math.random() * (max - 10000));
    let free = true;
    for (let i = 0; i < count && free; i++) {
      for (const off of [0, ...offsets]) if (!(free = await canBind(base + i + off))) break;
    }
    if (free) return base;
  }
  throw new Error("no free port below 32768");
}

/** A port the OS hands out now (listen on 0, read it back, close), for a server started next. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
