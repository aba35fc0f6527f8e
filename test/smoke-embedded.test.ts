import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startService } from "./support/spawn";

// The README's first command on a machine with nothing configured: PGlite + in-process cache.
const dir = mkdtempSync(join(tmpdir(), "hotpath-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("no DATABASE_URL / REDIS_URL: embedded backends, demo data, Server-Timing, clean shutdown", async () => {
  const svc = await startService({ PGLITE_DIR: join(dir, "pglite"), LOG_LEVEL: "info" });
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
  } finally {
    expect(await svc.stop("SIGTERM")).toBe(0);
  }
  expect(svc.output()).toContain("bye");
}, 120_000);
