import type { Context, MiddlewareHandler } from "hono";
import type { TrustedProxies } from "../lib/client-address";
import { forbidden } from "../lib/errors";
import type { AppEnv, AuthIdentity } from "../context/app-env";
import type { Limits } from "./limits";
import type { KeySource } from "./secret";
import type { Verify } from "./verify";

/** Authentication as configured at startup (services.ts builds it). */
export interface Auth {
  source: KeySource;
  /** undefined with AUTH=off: every write runs as TRUSTED_IDENTITY. */
  verify?: Verify;
  limits: Limits;
  /** TRUSTED_PROXIES: whose X-Forwarded-For names the client address the limits count. */
  trustedProxies: TrustedProxies;
}

/** The verified caller; only for routes behind authenticate (a bug otherwise, hence the throw). */
export function caller(c: Context<AppEnv>): AuthIdentity {
  const auth = c.get("auth");
  if (!auth) throw new Error("route needs the authenticate middleware");
  return auth;
}

export function requireAdmin(c: Context<AppEnv>): AuthIdentity {
  const me = caller(c);
  if (!me.admin) throw forbidden("this needs an admin token");
  return me;
}

/** As middleware: refused before the body is even validated. */
export const adminOnly: MiddlewareHandler<AppEnv> = async function adminOnly(c, next) {
  requireAdmin(c);
  await next();
};

/** The user themself or an admin. */
export function requireSelfOrAdmin(c: Context<AppEnv>, userId: number): AuthIdentity {
  const me = caller(c);
  if (!me.admin && me.userId !== userId) throw forbidden("a user can only change their own profile");
  return me;
}
