import { afterAll, describe, expect, test } from "bun:test";
import { decodeJwt, jwtVerify } from "jose";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveKeySource, secretFilePath } from "../src/auth/secret";
import { parseEnv } from "../src/env";
import { TEST_JWT_SECRET } from "./support/auth";
import { freshDatabase } from "./support/env";
import { startService } from "./support/spawn";

// Startup rules: which key the service verifies with, when it refuses to start, and the token CLI.

const dir = mkdtempSync(join(tmpdir(), "hotpath-auth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("env rules", () => {
  const pg = "postgres://postgres@127.0.0.1:5432/x";
  test("production + DATABASE_URL + no key refuses, naming JWT_SECRET", () => {
    expect(() => parseEnv({ NODE_ENV: "production", DATABASE_URL: pg })).toThrow(/JWT_SECRET: required with DATABASE_URL in production/);
  });
  test("…unless a key is configured, AUTH=off is explicit, or it is not production", () => {
    expect(parseEnv({ NODE_ENV: "production", DATABASE_URL: pg, JWT_SECRET: "x".repeat(32) }).JWT_SECRET).toBe("x".repeat(32));
    expect(parseEnv({ NODE_ENV: "production", DATABASE_URL: pg, JWT_JWKS_URL: "https://id.example.com/jwks.json" }).JWT_JWKS_URL).toBeDefined();
    expect(parseEnv({ NODE_ENV: "production", DATABASE_URL: pg, AUTH: "off" }).AUTH).toBe("off");
    expect(parseEnv({ NODE_ENV: "development", DATABASE_URL: pg }).AUTH).toBe("on");
    // The embedded default in production (bun run start with no env) generates its own secret.
    expect(parseEnv({ NODE_ENV: "production" }).AUTH).toBe("on");
  });
  test("a short secret, both key kinds, or a bad AUTH value are refused by name", () => {
    expect(() => parseEnv({ JWT_SECRET: "too-short" })).toThrow(/JWT_SECRET: must be at least 32 bytes/);
    expect(() => parseEnv({ JWT_SECRET: "x".repeat(32), JWT_JWKS_URL: "https://id.example.com/jwks.json" })).toThrow(/JWT_JWKS_URL/);
    expect(() => parseEnv({ AUTH: "disabled" })).toThrow(/AUTH/);
  });
  test("the service exits 1 naming JWT_SECRET", async () => {
    const proc = Bun.spawn(["bun", "run", "src/index.ts"], {
      env: { ...process.env, NODE_ENV: "production", DATABASE_URL: pg, JWT_SECRET: "", JWT_JWKS_URL: "", AUTH: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain("JWT_SECRET");
  });
});

describe("key source", () => {
  test("no key: a secret generated into the data folder (0600), the same on the next start", () => {
    const env = parseEnv({ PGLITE_DIR: join(dir, "data", "pglite") });
    expect(secretFilePath(env)).toBe(join(dir, "data", "jwt-secret"));
    const first = resolveKeySource(env);
    const second = resolveKeySource(env);
    if (first.kind !== "secret" || second.kind !== "secret") throw new Error("expected a secret");
    expect(first.origin).toBe("file");
    expect(statSync(join(dir, "data", "jwt-secret")).mode & 0o777).toBe(0o600);
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(Buffer.from(second.secret).equals(Buffer.from(first.secret))).toBe(true);
  });
  test("PGLITE_DIR=memory://: the secret lives in memory only, a new one per process", () => {
    const env = parseEnv({ PGLITE_DIR: "memory://" });
    expect(secretFilePath(env)).toBeUndefined();
    const a = resolveKeySource(env);
    const b = resolveKeySource(env);
    if (a.kind !== "secret" || b.kind !== "secret") throw new Error("expected a secret");
    expect(a.origin).toBe("memory");
    expect(Buffer.from(a.secret).equals(Buffer.from(b.secret))).toBe(false);
  });
  test("JWT_SECRET wins and writes nothing; AUTH=off is off", () => {
    const env = parseEnv({ PGLITE_DIR: join(dir, "other", "pglite"), JWT_SECRET: TEST_JWT_SECRET });
    expect(resolveKeySource(env)).toMatchObject({ kind: "secret", origin: "env" });
    expect(existsSync(join(dir, "other"))).toBe(false);
    expect(resolveKeySource(parseEnv({ AUTH: "off" }))).toEqual({ kind: "off" });
  });
});

describe("bun run token", () => {
  const run = (args: string[], env: Record<string, string> = {}) => {
    const p = Bun.spawn(["bun", "run", "src/scripts/token.ts", ...args], {
      env: { ...process.env, JWT_SECRET: TEST_JWT_SECRET, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    return Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  };
  test("mints for JWT_SECRET: sub, role, exp from --ttl, issuer and audience from the env", async () => {
    const [code, out] = await run(["--sub", "42", "--admin", "--ttl", "2h"], { JWT_ISSUER: "iss-x", JWT_AUDIENCE: "aud-y" });
    expect(code).toBe(0);
    const { payload } = await jwtVerify(out.trim(), new TextEncoder().encode(TEST_JWT_SECRET), { issuer: "iss-x", audience: "aud-y" });
    expect(payload).toMatchObject({ sub: "42", role: "admin" });
    expect(payload.exp! - payload.iat!).toBe(7200);
    const [, plain] = await run(["--sub", "7"]);
    expect(decodeJwt(plain.trim()).role).toBeUndefined();
    expect(decodeJwt(plain.trim()).exp! - decodeJwt(plain.trim()).iat!).toBe(3600);
  });
  test("bad arguments or no secret to mint for: exit 2 with the reason", async () => {
    for (const args of [[], ["--sub", "abc"], ["--sub", "1", "--ttl", "soon"]]) {
      const [code, out, err] = await run(args);
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err).toMatch(/^token: /);
    }
    const [code, , err] = await run(["--sub", "1"], { JWT_SECRET: "", PGLITE_DIR: join(dir, "never-started", "pglite") });
    expect(code).toBe(2);
    expect(err).toContain("start the service once");
  });
});

test("AUTH=off with a real database in production: starts, says so loudly, writes need no token", async () => {
  const { url } = await freshDatabase("startup_auth");
  const svc = await startService({ NODE_ENV: "production", DATABASE_URL: url, AUTH: "off", JWT_SECRET: "", LOG_LEVEL: "info", DB_SEED_DEMO: "false" });
  try {
    for (let i = 0; i < 40 && !svc.output().includes("AUTH=off: writes"); i++) await Bun.sleep(50);
    const warned = svc.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(warned).toContainEqual(expect.objectContaining({ level: "warn", msg: "AUTH=off: every write is accepted without a token; trusted network only" }));
    const res = await fetch(`${svc.url}/flags/open`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"enabled":true}' });
    expect(res.status).toBe(201);
    // No caller identity to show: /users/me has no user behind AUTH=off's operator (sub 0).
    expect((await fetch(`${svc.url}/users/me`)).status).toBe(404);
  } finally {
    expect(await svc.stop("SIGTERM")).toBe(0);
  }
}, 60_000);
