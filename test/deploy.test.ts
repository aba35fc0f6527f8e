import { expect, test } from "bun:test";
import postgres from "postgres";
import { freshDatabase, REDIS_URL, freshPrefix } from "./support/env";
import { freePort } from "./support/ports";
import { startService } from "./support/spawn";

// What a deployment relies on, through the real entry points (src/index.ts, src/cli.ts).

const cli = async (args: string[], env: Record<string, string>) => {
  const proc = Bun.spawn(["bun", "src/cli.ts", ...args], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
};

test("with DATABASE_URL and DB_SEED_DEMO unset, an empty database gets no demo users", async () => {
  const { url } = await freshDatabase("deploy_noseed");
  const svc = await startService({ DATABASE_URL: url, REDIS_URL, REDIS_KEY_PREFIX: await freshPrefix("hpt-deploy"), LOG_LEVEL: "info" });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from users`;
    expect(row?.n).toBe(0);
    expect((await fetch(`${svc.url}/users/1`)).status).toBe(404);
    expect(svc.output()).not.toContain("seeded");
  } finally {
    await sql.end();
    expect(await svc.stop()).toBe(0);
  }
}, 90_000);

test("MIGRATE_ON_START=false runs no DDL; `cli.ts migrate` applies the migrations and exits 0", async () => {
  const { url } = await freshDatabase("deploy_migrate");
  const svc = await startService({
    DATABASE_URL: url,
    REDIS_URL,
    REDIS_KEY_PREFIX: await freshPrefix("hpt-deploy"),
    MIGRATE_ON_START: "false",
    LOG_LEVEL: "info",
  });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [before] = await sql<{ t: string | null }[]>`select to_regclass('public.users')::text as t`;
    expect(before?.t).toBeNull();
    // As in the image (NODE_ENV=production) and with no key: migrating needs only DATABASE_URL.
    const r = await cli(["migrate"], { DATABASE_URL: url, NODE_ENV: "production", JWT_SECRET: "" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("migrations applied (postgres)");
    const [after] = await sql<{ t: string | null }[]>`select to_regclass('public.users')::text as t`;
    expect(after?.t).toBe("users");
    // The running instance serves the schema the pipeline applied.
    expect((await fetch(`${svc.url}/users/1`)).status).toBe(404);
    // A second run is a no-op.
    expect((await cli(["migrate"], { DATABASE_URL: url })).code).toBe(0);
  } finally {
    await sql.end();
    expect(await svc.stop()).toBe(0);
  }
}, 90_000);

test("`cli.ts healthcheck` exits 0 when /readyz is 200, 1 when nothing answers", async () => {
  const { url } = await freshDatabase("deploy_health");
  const svc = await startService({ DATABASE_URL: url, REDIS_URL, REDIS_KEY_PREFIX: await freshPrefix("hpt-deploy") });
  try {
    const port = new URL(svc.url).port;
    expect((await cli(["healthcheck"], { PORT: port, HOST: "0.0.0.0" })).code).toBe(0);
  } finally {
    expect(await svc.stop()).toBe(0);
  }
  const down = await cli(["healthcheck"], { PORT: String(freePort()) }); // nothing listens there
  expect(down.code).toBe(1);
  expect(down.stderr).toContain("/readyz");
}, 90_000);

test("`cli.ts` with an unknown command exits 2 with the usage", async () => {
  const r = await cli(["nope"], {});
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("usage: bun src/cli.ts [serve | migrate | healthcheck]");
});
