import { expect, test } from "bun:test";
import { parseEnv } from "../src/env";

test("defaults with no env at all", () => {
  const env = parseEnv({});
  expect(env.PORT).toBe(3000);
  expect(env.DATABASE_URL).toBeUndefined();
  expect(env.REDIS_URL).toBeUndefined();
  expect(env.CACHE_TTL_USER_S).toBe(300);
  expect(env.CACHE_TTL_USER_STATS_S).toBe(60);
  expect(env.CACHE_TTL_GLOBAL_STATS_S).toBe(30);
  expect(env.DB_PREPARE).toBe(true);
});

test("every bad variable is named", () => {
  expect(() => parseEnv({ PORT: "abc", DB_POOL_MAX: "0", REDIS_URL: "not a url" })).toThrow(/PORT[\s\S]*DB_POOL_MAX[\s\S]*REDIS_URL/);
});

test("the service exits 1 naming the variable", async () => {
  const proc = Bun.spawn(["bun", "run", "src/index.ts"], {
    env: { ...process.env, CACHE_TTL_USER_S: "-5", DATABASE_URL: "", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(1);
  expect(await new Response(proc.stderr).text()).toContain("CACHE_TTL_USER_S");
});

test("demo data defaults on for the embedded default only; explicit values win", () => {
  expect(parseEnv({}).DB_SEED_DEMO).toBe(true);
  expect(parseEnv({ DATABASE_URL: "postgres://u@db:5432/app" }).DB_SEED_DEMO).toBe(false);
  expect(parseEnv({ DATABASE_URL: "postgres://u@db:5432/app", DB_SEED_DEMO: "true" }).DB_SEED_DEMO).toBe(true);
  expect(parseEnv({ DB_SEED_DEMO: "false" }).DB_SEED_DEMO).toBe(false);
});

test("migrations at start: on by default, MIGRATE_ON_START=false turns them off", () => {
  expect(parseEnv({}).MIGRATE_ON_START).toBe(true);
  expect(parseEnv({ MIGRATE_ON_START: "false" }).MIGRATE_ON_START).toBe(false);
  expect(() => parseEnv({ MIGRATE_ON_START: "maybe" })).toThrow(/MIGRATE_ON_START/);
});
