import { expect, test } from "bun:test";
import postgres from "postgres";
import { freshDatabase, REDIS_URL } from "./support/env";
import { startService } from "./support/spawn";

test("SIGTERM: stops accepting, finishes the in-flight request, closes pool and Redis, exits 0", async () => {
  const { url: dbUrl } = await freshDatabase("shutdown");
  const svc = await startService({
    DATABASE_URL: dbUrl,
    DB_SEED_DEMO: "true", // user 1 for the in-flight read
    REDIS_URL,
    REDIS_KEY_PREFIX: "hpt-shutdown",
    LOG_LEVEL: "info",
    SHUTDOWN_TIMEOUT_S: "10",
  });
  const locker = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    // Hold a lock that the next profile read must wait for: a request guaranteed to be in flight.
    const tx = locker.reserve();
    const conn = await tx;
    await conn`begin`;
    await conn`lock table users in access exclusive mode`;
    const inflight = fetch(`${svc.url}/users/1`);
    await Bun.sleep(300);
    svc.proc.kill("SIGTERM");
    await Bun.sleep(300);
    // No new connections once shutdown has begun.
    expect(await fetch(`${svc.url}/healthz`).then(() => "served", () => "refused")).toBe("refused");
    await conn`commit`;
    conn.release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: number }).id).toBe(1);
    expect(await svc.stop("SIGTERM")).toBe(0);
    expect(svc.output()).toContain("bye");
    // The service's connections are gone from Postgres.
    const [row] = await locker<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'hotpath'`;
    expect(row?.n).toBe(0);
  } finally {
    await locker.end();
    svc.proc.kill("SIGKILL");
  }
}, 60_000);
