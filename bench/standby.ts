import { chmodSync, existsSync, readdirSync } from "node:fs";
import postgres from "postgres";

// A Postgres streaming standby of a running server, on this machine (pg_basebackup + pg_ctl, see
// ../shared/scale-out.md): the replica benchmark phase makes one of the bench's Postgres, and
// test/support/pg-replica.ts one of a primary it initdb's itself. Postgres refuses to run as root,
// so the server commands run as the postgres user then.

/** Debian keeps the server binaries per major version; PG_BIN overrides. */
export const PG_BIN =
  process.env.PG_BIN ??
  (() => {
    const root = "/usr/lib/postgresql";
    const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    return `${root}/${versions[0] ?? "15"}/bin`;
  })();

export async function asPostgres(args: string[]): Promise<string> {
  const prefix = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const proc = Bun.spawn([...prefix, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}: ${err || out}`);
  return out;
}

/**
 * Server options for a throwaway cluster: loopback only, no fsync. A standby keeps its source's
 * max_connections (hot standby refuses a lower one), so only a fresh cluster sets it.
 */
export const serverOptions = (port: number, maxConnections?: number) =>
  `-p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=32MB -k /tmp${maxConnections ? ` -c max_connections=${maxConnections}` : ""}`;

/** A directory the postgres user may write into. */
export function shareDir(dir: string): void {
  chmodSync(dir, 0o777);
}

export const pgCtl = (dataDir: string, ...args: string[]) => asPostgres([`${PG_BIN}/pg_ctl`, "-D", dataDir, ...args]);

/**
 * pg_basebackup of `source` (host, port, user with replication rights) into `dataDir`, started
 * as a standby on `port` (recovery settings written by -R; -X stream, no slot). Resolves once it
 * has replayed everything the source had written when it started. On failure it stops what it started.
 */
export async function startStandby(
  sourceUrl: string,
  dataDir: string,
  port: number,
): Promise<{ url: (db: string) => string; stop(): Promise<void>; restart(): Promise<void> }> {
  const src = new URL(sourceUrl);
  await asPostgres([
    `${PG_BIN}/pg_basebackup`, "-h", src.hostname, "-p", src.port || "5432", "-U", decodeURIComponent(src.username || "postgres"),
    "-D", dataDir, "-R", "-X", "stream", "--no-sync", "-c", "fast",
  ]);
  const start = () =>
    pgCtl(dataDir, "-o", serverOptions(port), "-l", `${dataDir}.log`, "-w", "start").catch(async (err: Error) => {
      const log = await Bun.file(`${dataDir}.log`).text().catch(() => "");
      throw new Error(`${err.message}\n${log.slice(-1500)}`);
    });
  await start();
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const stop = () => pgCtl(dataDir, "-m", "immediate", "-w", "stop").then(() => {});
  try {
    const primary = postgres(sourceUrl, { max: 1, onnotice: () => {} });
    const replica = postgres(url("postgres"), { max: 1, onnotice: () => {} });
    try {
      const [row] = await primary<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
      for (;;) {
        const [r] = await replica<{ ok: boolean }[]>`select pg_last_wal_replay_lsn() >= ${row!.lsn}::pg_lsn as ok`;
        if (r!.ok) break;
        await Bun.sleep(20);
      }
    } finally {
      await Promise.allSettled([primary.end({ timeout: 1 }), replica.end({ timeout: 1 })]);
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return { url, stop, restart: () => start().then(() => {}) };
}
