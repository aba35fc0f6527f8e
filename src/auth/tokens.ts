import { SignJWT } from "jose";

export interface MintOptions {
  /** The user id (decimal); "0" is an operator that is no user (admin tokens). */
  sub: string | number;
  admin?: boolean;
  ttlS: number;
  issuer?: string;
  audience?: string;
}

/** An HS256 token for our own secret: the startup hint, `bun run token`, tests and the bench. */
export function mintToken(secret: Uint8Array, opts: MintOptions): Promise<string> {
  const jwt = new SignJWT(opts.admin ? { role: "admin" } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(opts.sub))
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlS);
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(secret);
}

/** "90", "90s", "15m", "1h", "7d" → seconds; undefined when not a duration. */
export function parseTtl(s: string): number | undefined {
  const m = /^(\d+)\s*([smhd]?)$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return n > 0 ? n : undefined;
}
