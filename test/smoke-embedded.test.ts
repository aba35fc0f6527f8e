import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startService } from "./support/spawn";

// The README's first command on a machine with nothing configured: PGlite + in-process cache.
const dir = mkdtempSync(join(tmpdir(), "hotpath-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("no DATABASE_URL / REDIS_URL: embedded backends, demo data, Server-Timing, printed tokens, clean shutdown", async () => {
  const svc = await startService({ PGLITE_DIR: join(dir, "pglite"), LOG_LEVEL: "info", JWT_SECRET: "" });
  try {
    expect(svc.output()).toContain("PGlite");
    expect(svc.output()).toContain("in-process LRU");
    // The curl hint is the line after "listening on"; it may still be in the pipe.
    for (let i = 0; i < 40 && !svc.output().includes("try: curl"); i++) await Bun.sleep(50);
    expect(svc.output()).toContain(`curl -i ${svc.url}/users/1`);
    const first = await fetch(`${svc.url}/users/1`);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { id: number }).id).toBe(1);
    expect(first.headers.get("server-timing")).toContain('cache;dur=');
    const second = await fetch(`${svc.url}/users/1`);
    expect(second.headers.get("server-timing")).toContain('desc="hit"');
    const list = (await (await fetch(`${svc.url}/users/1/documents?limit=5`)).json()) as { items: unknown[] };
    expect(list.items.length).toBeGreaterThan(0);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);

    // No key configured: a secret generated into the data folder (0600), tokens printed.
    for (let i = 0; i < 40 && !svc.output().includes("try a write"); i++) await Bun.sleep(50);
    expect(statSync(join(dir, "jwt-secret")).mode & 0o777).toBe(0o600);
    const userToken = /user 1: (\S+)/.exec(svc.output())?.[1];
    const adminToken = /admin: +(\S+)/.exec(svc.output())?.[1];
    expect(svc.output()).toContain(`curl -i -X PATCH ${svc.url}/users/1 -H 'authorization: Bearer ${userToken}'`);
    const patch = (id: number, token?: string) =>
      fetch(`${svc.url}/users/${id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: '{"bio":"hello"}',
      });
    expect((await patch(1)).status).toBe(401);
    expect((await patch(1, userToken)).status).toBe(200);
    expect((await patch(2, userToken)).status).toBe(403);
    expect((await patch(2, adminToken)).status).toBe(200);
    // bun run token mints for the same secret (read from the data folder).
    const cli = Bun.spawn(["bun", "run", "src/scripts/token.ts", "--sub", "3", "--ttl", "5m"], {
      env: { ...process.env, PGLITE_DIR: join(dir, "pglite"), JWT_SECRET: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const minted = (await new Response(cli.stdout).text()).trim();
    expect(await cli.exited).toBe(0);
    expect((await patch(3, minted)).status).toBe(200);
    expect((await patch(1, minted)).status).toBe(403);
  } finally {
    expect(await svc.stop("SIGTERM")).toBe(0);
  }
  expect(svc.output()).toContain("bye");
}, 120_000);
