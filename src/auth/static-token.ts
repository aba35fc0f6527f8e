import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";

// Hashing first gives both sides the same length, so the comparison time says nothing about
// the token's length or its first differing byte.
const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time comparison; false when no token is configured or none was given. */
export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!expected || !given) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** `Authorization: Bearer <t>`, else the named header (`X-Debug-Token`). */
export function presentedToken(c: Context, header?: string): string | undefined {
  const auth = c.req.header("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return header ? c.req.header(header) : undefined;
}

export const debugAuthorized = (c: Context, token: string | undefined): boolean =>
  token !== undefined && tokenMatches(presentedToken(c, "x-debug-token"), token);
