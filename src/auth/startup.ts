import type { Env } from "../env";
import type { KeySource } from "./secret";
import { mintToken } from "./tokens";

const TTL_S = 24 * 3600;

/**
 * The lines printed under the curl hint at startup. With a generated secret (the embedded
 * default) a new user gets ready-to-use tokens and a write to try; with a configured key only
 * a pointer, since tokens for a real deployment are not printed into logs.
 */
export async function startupTokens(source: KeySource, env: Env, url: string): Promise<string> {
  if (source.kind === "off") return "AUTH=off: writes need no token (trusted network only)";
  if (source.kind === "jwks") return `writes need a bearer token from the issuer of ${source.url}`;
  if (source.origin === "env") return "writes need a bearer token signed with JWT_SECRET (bun run token --sub <id>)";
  const claims = { ttlS: TTL_S, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE };
  const user = await mintToken(source.secret, { sub: 1, ...claims });
  const admin = await mintToken(source.secret, { sub: 0, admin: true, ...claims });
  const where = source.origin === "file" ? `secret kept in ${source.file}` : "secret in memory only, gone at exit";
  return [
    `tokens for writes (valid 24 h; ${where}; more: bun run token --sub 42 [--admin] [--ttl 1h]):`,
    `  user 1: ${user}`,
    `  admin:  ${admin}`,
    `try a write: curl -i -X PATCH ${url}/users/1 -H 'authorization: Bearer ${user}' -H 'content-type: application/json' -d '{"bio":"hello"}'`,
  ].join("\n");
}
