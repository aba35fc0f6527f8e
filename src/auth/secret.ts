import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Env } from "../env";

/** Where verification keys come from; decided once at startup from the env. */
export type KeySource =
  | { kind: "off" }
  | { kind: "jwks"; url: string }
  /** HS256. origin: env = JWT_SECRET; file = generated into the data folder; memory = this process only. */
  | { kind: "secret"; secret: Uint8Array; origin: "env" | "file" | "memory"; file?: string };

const encode = (s: string) => new TextEncoder().encode(s);

/**
 * The embedded default's secret file: JWT_SECRET_FILE, else `jwt-secret` beside the PGlite
 * folder (not inside it: PGlite owns that directory). undefined for PGLITE_DIR=memory:// with no
 * JWT_SECRET_FILE: nothing is kept on disk there, so neither is the secret.
 */
export function secretFilePath(env: Env): string | undefined {
  if (env.JWT_SECRET_FILE) return env.JWT_SECRET_FILE;
  if (env.PGLITE_DIR.startsWith("memory://")) return undefined;
  return join(dirname(env.PGLITE_DIR.replace(/\/+$/, "")), "jwt-secret");
}

/** Reads the secret file, or creates it (mode 0600, exclusive: two first starts cannot race). */
export function readOrCreateSecretFile(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return readFileSync(file, "utf8").trim();
}

/**
 * AUTH=off → off; JWT_JWKS_URL → remote keys; JWT_SECRET → that secret. Otherwise (the embedded
 * default, or a development database: env.ts already refused production + DATABASE_URL) a random
 * secret generated on first start and kept in the data folder, so restarts keep tokens valid and
 * `bun run token` can mint for it.
 */
export function resolveKeySource(env: Env): KeySource {
  if (env.AUTH === "off") return { kind: "off" };
  if (env.JWT_JWKS_URL) return { kind: "jwks", url: env.JWT_JWKS_URL };
  if (env.JWT_SECRET) return { kind: "secret", secret: encode(env.JWT_SECRET), origin: "env" };
  const file = secretFilePath(env);
  if (!file) return { kind: "secret", secret: new Uint8Array(randomBytes(32)), origin: "memory" };
  return { kind: "secret", secret: encode(readOrCreateSecretFile(file)), origin: "file", file };
}
