import Redis from "ioredis";
import postgres from "postgres";
import { PG_ADMIN_URL, REDIS_URL } from "./env";

// Fail the whole run with one clear line instead of every file timing out on its own.
async function check() {
  const sql = postgres(PG_ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(
      `tests need PostgreSQL at ${PG_ADMIN_URL} (${(err as Error).message}); start it with ` +
        "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set TEST_PG_URL",
    );
  } finally {
    await sql.end();
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(
      `tests need Redis at ${REDIS_URL} (${(err as Error).message}); start it with ` +
        '`redis-server --daemonize yes --port 6379 --save "" --appendonly no` or set TEST_REDIS_URL',
    );
  } finally {
    redis.disconnect();
  }
}
await check();
