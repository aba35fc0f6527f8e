import type { MiddlewareHandler } from "hono";
import type { Auth } from "../auth/authorize";
import type { AppEnv, AuthIdentity } from "../context/app-env";
import { missingToken, invalidToken } from "../auth/verify";
import { clientAddress } from "../lib/client-address";
import { ApiError } from "../lib/errors";

/** With AUTH=off every write runs as an operator that is no user (trusted network only). */
export const TRUSTED_IDENTITY: AuthIdentity = Object.freeze({ sub: "0", userId: 0, admin: true });

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The TCP peer's address (Bun passes its server as the env of app.fetch); "unknown" in app.request. */
export function peerAddress(c: { env: unknown; req: { raw: Request } }): string {
  const server = c.env as { requestIP?: (r: Request) => { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? "unknown";
}

/**
 * Requires `Authorization: Bearer <JWT>` and sets c.var.auth. Refused: 401 with WWW-Authenticate
 * (RFC 6750: a missing token gets the bare challenge, a bad one error="invalid_token"). Each
 * token presented and refused counts against the client address (the TCP peer, or from a
 * TRUSTED_PROXIES peer its X-Forwarded-For: src/lib/client-address.ts); past RATE_LIMIT_AUTH_FAILURES
 * the address gets 429 before its token is even looked at, so guessing learns nothing.
 */
export function authenticate({ verify, limits, trustedProxies }: Auth): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    if (!verify) {
      c.set("auth", TRUSTED_IDENTITY);
      return next();
    }
    const header = c.req.header("authorization");
    if (header === undefined) throw missingToken();
    const address = clientAddress(peerAddress(c), c.req.header("x-forwarded-for"), trustedProxies);
    await limits.checkAuthFailures(address);
    let identity: AuthIdentity;
    try {
      const token = BEARER.exec(header)?.[1];
      if (!token) throw invalidToken("malformed Authorization header (want: Bearer <token>)");
      identity = await verify(token);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) await limits.recordAuthFailure(address);
      throw err;
    }
    c.set("auth", identity);
    await next();
  };
}

/** Per-subject write limit (RATE_LIMIT_WRITES per RATE_LIMIT_WRITES_WINDOW_S); after authenticate. */
export function limitWrites({ limits }: Auth): MiddlewareHandler<AppEnv> {
  return async function limitWrites(c, next) {
    const auth = c.get("auth");
    if (auth && auth !== TRUSTED_IDENTITY) await limits.consumeWrite(auth.sub);
    await next();
  };
}
