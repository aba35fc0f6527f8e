import type { RequestIdVariables } from "hono/request-id";
import type { LRUCache } from "lru-cache";
import type { RequestStats } from "./request";

// The Hono variables every middleware and route shares (c.var). In the leaf layer so that the
// response helpers (lib/), the auth checks and the middleware type their Context without
// importing the composition root.

/**
 * The verified caller, set as c.var.auth by the authenticate middleware (every write, GET
 * /users/me, an admin JWT on /metrics and /debug). Reads do not look at tokens, so on a public
 * GET it is undefined.
 * - sub: the token's `sub`, a user id in decimal ("0" = an operator that is no user).
 * - userId: Number(sub).
 * - admin: the token has `role: "admin"`.
 */
export interface AuthIdentity {
  sub: string;
  userId: number;
  admin: boolean;
}

/** What the compress middleware hands the response layer. */
export interface Compression {
  /** COMPRESS_MIN_BYTES: smaller bodies are sent as they are. */
  minBytes: number;
  /** Compressed bodies by their ETag (lib/respond.ts), or undefined when COMPRESS_MEMO_BYTES=0. */
  memo?: LRUCache<string, Uint8Array<ArrayBuffer>>;
}

export type AppEnv = {
  Variables: RequestIdVariables & {
      stats: RequestStats;
      unmatched: boolean;
      /** A CORS preflight answered by the cors middleware (counted as its own route). */
      preflight: boolean;
      auth?: AuthIdentity;
      /** Set by middleware/compress.ts (absent: nothing is compressed). */
      compression?: Compression;
      /** The response's coding was already chosen (lib/respond.ts); compress.ts leaves it alone. */
      negotiated?: boolean;
    };
};
