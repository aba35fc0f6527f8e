import postgres from "postgres";
import Redis from "ioredis";
import { flushPrefix } from "../../src/cache/flush";
import { parseEnv, type Env } from "../../src/env";
import { TEST_JWT_SECRET } from "./auth";

// Where the tests find the real services; CI and this machine run both on 127.0.0.1.
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database of this test file's own: dropped and created anew, so files never share data. */
export async function freshDatabase(file: string): Promise<{ name: string; url: string }> {
  const name = `hp_test_${file.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  return { name, url: dbUrl(name) };
}

/** Env for a test: real Postgres database + Redis under a prefix of the file's own; tokens from support/auth.ts. */
export function testEnv(overrides: Partial<Record<keyof Env, string>> = {}): Env {
  return parseEnv({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    DB_SEED_DEMO: "false",
    JWT_SECRET: TEST_JWT_SECRET,
    // Files make more writes and refused tokens per minute than any client should: the limits
    // are off here and tested on their own (test/limits.test.ts).
    RATE_LIMIT_WRITES: "0",
    RATE_LIMIT_AUTH_FAILURES: "0",
    // Tests assert exact cache outcomes (hit, miss): on a loaded 2-core machine a healthy Redis
    // sometimes took longer than the 100 ms default, and the hit became an error. The tests of a
    // sick Redis set their own (test/cache-faults.test.ts, fail-open.test.ts).
    REDIS_COMMAND_TIMEOUT_MS: "2000",
    ...overrides,
  });
}

/**
 * A Redis key prefix of the test's own, emptied first in the shared Redis: a service the test
 * spawns must not find what an earlier run of the same file cached there (a cached 404 where
 * the test expects a 504).
 */
export async function freshPrefix(name: string): Promise<string> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await flushPrefix(redis, name);
  } finally {
    redis.disconnect();
  }
  return name;
}
