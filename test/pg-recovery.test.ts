import { expect, test } from "bun:test";
import postgres from "postgres";
import { startPostgres } from "./support/own-postgres";
import { startService } from "./support/spawn";

// A Postgres outage during which requests time out while their statement waits for a connection
// that is still connecting. The timeout used to cancel that statement inside postgres.js, which
// then left the connection in its "connecting" state for good once it opened: after Postgres came
// back, every read answered 504 (the README's "Postgres down and back").

// A user never read before each time, so no cache tier answers instead of Postgres: a document
// list (the general lane), then a profile (the point lane).
let next = 0;
const reads = () => {
  const id = ++next;
  return [`/users/${id}/documents`, `/users/${id}`];
};

/** Polls until the path answers 200, for at most 30 s; returns the last status. */
async function until200(url: string) {
  const deadline = Date.now() + 30_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await fetch(url)).status;
    if (status === 200) break;
    await Bun.sleep(250);
  }
  return status;
}

test("reads and /readyz recover once Postgres is back, after requests timed out while the pool was connecting", async () => {
  const pg = await startPostgres();
  try {
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    // Long connect timeout: a connection attempt hangs while the postmaster is paused, and must
    // still be pending (not failed) when it resumes.
    const svc = await startService({
      DATABASE_URL: pg.url,
      REDIS_URL: "",
      REQUEST_TIMEOUT_MS: "1000",
      DB_CONNECT_TIMEOUT_S: "60",
      SHUTDOWN_DRAIN_S: "0",
    });
    try {
      await admin`insert into users (email, name) select 'u' || i || '@x.io', 'U' || i from generate_series(1, 100) i`;
      await admin.end();
      for (const path of [...reads(), "/readyz"]) expect((await fetch(svc.url + path)).status).toBe(200);

      await pg.stop();
      // Down: failed connection attempts (and postgres.js' reconnect backoff after each).
      for (const path of reads()) await fetch(svc.url + path);
      expect((await fetch(`${svc.url}/readyz`)).status).toBe(503);

      // Back, but answering no new connection until resumed: a read's statement waits for a
      // connection still connecting, and its request times out (504, the statement abandoned).
      await pg.start();
      pg.pause();
      try {
        for (let round = 0; round < 2; round++) {
          const statuses = await Promise.all(reads().map((path) => fetch(svc.url + path).then((r) => r.status)));
          // 504, or 503 where a connection attempt started before the pause was refused.
          for (const status of statuses) expect([503, 504]).toContain(status);
        }
      } finally {
        pg.resume();
      }

      for (const path of [...reads(), "/readyz"]) expect(await until200(svc.url + path)).toBe(200);
      const [, profile] = reads();
      const body = (await (await fetch(svc.url + profile)).json()) as { name: string };
      expect(body.name).toBe(`U${next}`);
    } finally {
      await svc.stop();
    }
  } finally {
    await pg.close();
  }
}, 120_000);
