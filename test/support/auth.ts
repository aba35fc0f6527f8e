import { mintToken } from "../../src/auth/tokens";

/** The HS256 secret every test app is given (testEnv); tokens below are minted for it. */
export const TEST_JWT_SECRET = "test-secret-for-hotpath-tests-0123456789";
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

/** Who a test request acts as: a user id, or "admin" (an operator token, sub "0"). */
export type As = number | "admin";

/** A valid token for a user id or an admin, for the test secret (or the one given). */
export function tokenFor(who: As, opts: { ttlS?: number; secret?: Uint8Array; issuer?: string; audience?: string } = {}) {
  return mintToken(opts.secret ?? secret, {
    sub: who === "admin" ? 0 : who,
    admin: who === "admin",
    ttlS: opts.ttlS ?? 600,
    issuer: opts.issuer,
    audience: opts.audience,
  });
}

export async function bearer(who: As): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(who)}` };
}
