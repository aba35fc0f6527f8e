import { expect, test } from "bun:test";
import { parseEnv } from "../src/env";

// compose.yaml cannot run here (no Docker engine, no registry for postgres:15 / redis:7), so this
// checks its contract statically; the image it builds is run for real by `bun run test:container`.
const compose = Bun.YAML.parse(await Bun.file(new URL("../compose.yaml", import.meta.url)).text()) as any;

/** Compose's ${VAR:-default} with VAR unset. */
const interpolate = (v: string) => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");

test("compose: the app is built from the Dockerfile and waits for healthy postgres:15 and redis:7", () => {
  const { app, postgres, redis } = compose.services;
  expect(app.build).toBe(".");
  expect(app.ports).toContain("3000:3000");
  expect(app.depends_on).toEqual({ postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
  expect(postgres.image).toBe("postgres:15");
  expect(redis.image).toBe("redis:7");
  for (const svc of [postgres, redis]) expect(svc.healthcheck.test[0]).toBe("CMD");
  expect(postgres.healthcheck.test).toContain("pg_isready");
  expect(redis.healthcheck.test).toEqual(["CMD", "redis-cli", "ping"]);
  // Postgres data in a named volume declared at the top level.
  expect(postgres.volumes).toContain("pgdata:/var/lib/postgresql/data");
  expect(Object.keys(compose.volumes)).toContain("pgdata");
});

test("compose: the app's environment is valid and points at the compose services", () => {
  const { app, postgres } = compose.services;
  const raw = Object.fromEntries(Object.entries(app.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]));
  // NODE_ENV=production comes from the image.
  const env = parseEnv({ NODE_ENV: "production", ...raw });
  const db = new URL(env.DATABASE_URL!);
  expect(db.hostname).toBe("postgres");
  expect(decodeURIComponent(db.username)).toBe(postgres.environment.POSTGRES_USER);
  expect(decodeURIComponent(db.password)).toBe(postgres.environment.POSTGRES_PASSWORD);
  expect(db.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`);
  expect(new URL(env.REDIS_URL!).hostname).toBe("redis");
  expect(env.DB_SEED_DEMO).toBe(true); // asked for explicitly, so the README's curl has data
  expect(Buffer.byteLength(raw.JWT_SECRET ?? "")).toBeGreaterThanOrEqual(32);
});
