import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { tokenMatches } from "../auth/static-token";
import type { Auth } from "../auth/authorize";
import type { AppEnv } from "../context/app-env";

export interface OperatorAuthOptions {
  auth: Auth;
  /** The endpoint's own static token (METRICS_TOKEN, DEBUG_TOKEN); undefined: admin JWTs only. */
  token: string | undefined;
  /** The answer to a caller that is not an operator (a 401, or /debug's 404). */
  refuse: (c: Context<AppEnv>) => Response | Promise<Response>;
}

/**
 * The one rule for operator endpoints (/metrics, /debug/*): `Authorization: Bearer` with the
 * endpoint's static token or a valid admin JWT (then c.var.auth is set). hono/bearer-auth parses
 * the header and asks verifyToken; its own refusals (a bare-text 401/400) are replaced by the
 * endpoint's, so /debug can stay indistinguishable from an unknown path.
 */
export function operatorAuth({ auth, token, refuse }: OperatorAuthOptions): MiddlewareHandler<AppEnv> {
  const check = bearerAuth<AppEnv>({
    verifyToken: async (given, c) => {
      if (token !== undefined && tokenMatches(given, token)) return true;
      if (!auth.verify) return false;
      try {
        const identity = await auth.verify(given);
        if (identity.admin) c.set("auth", identity);
        return identity.admin;
      } catch {
        return false;
      }
    },
  });
  return async function operatorAuth(c, next) {
    let admitted = false;
    try {
      await check(c, async () => {
        admitted = true;
      });
    } catch {
      // bearerAuth refuses by throwing; the endpoint answers in its own terms below.
    }
    if (!admitted) return refuse(c);
    await next();
  };
}
