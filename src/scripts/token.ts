// bun run token --sub 42 [--admin] [--ttl 1h]
// Prints an HS256 token for the configured secret: JWT_SECRET, else the secret the embedded
// default keeps in its data folder (JWT_SECRET_FILE, default beside PGLITE_DIR). Only the token
// goes to stdout, so `TOKEN=$(bun run token --sub 1)` works.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { secretFilePath } from "../auth/secret";
import { mintToken, parseTtl } from "../auth/tokens";
import { env as loadEnv } from "../env";

const fail = (msg: string): never => {
  console.error(`token: ${msg}`);
  process.exit(2);
};

const { values } = parseArgs({
  options: { sub: { type: "string" }, admin: { type: "boolean", default: false }, ttl: { type: "string", default: "1h" } },
});
if (values.sub === undefined || !/^(0|[1-9][0-9]{0,9})$/.test(values.sub) || Number(values.sub) > 2 ** 31 - 1) {
  fail("--sub <user id> is required (a decimal user id; 0 with --admin for an operator that is no user)");
}
const ttlS = parseTtl(values.ttl!) ?? fail(`--ttl ${values.ttl}: use e.g. 90s, 15m, 1h, 7d`);

const env = loadEnv();
if (env.JWT_JWKS_URL) fail("JWT_JWKS_URL is set: tokens come from that identity provider, not from here");
let secret = env.JWT_SECRET;
if (!secret) {
  const file = secretFilePath(env) ?? fail("PGLITE_DIR=memory:// keeps its secret in the process; set JWT_SECRET");
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch {
    fail(`no JWT_SECRET and no ${file} yet: start the service once (it creates the file) or set JWT_SECRET`);
  }
}
const token = await mintToken(new TextEncoder().encode(secret), {
  sub: values.sub!,
  admin: values.admin,
  ttlS,
  issuer: env.JWT_ISSUER,
  audience: env.JWT_AUDIENCE,
});
console.log(token);
