import type { Context, MiddlewareHandler } from "hono";
import type { IdempotencyStore, StoredResponse } from "../db/idempotency";
import { ApiError } from "../lib/errors";
import { requestStore } from "../context/request";

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** Purge expired records on about one claim in this many. */
  purgeEvery?: number;
}

/** 1–255 printable ASCII characters (what Stripe and the IETF draft accept, and no more). */
const KEY = /^[\x20-\x7e]{1,255}$/;
/** The headers of the first answer a replay must repeat. */
const KEPT = ["content-type", "location", "etag"];

/**
 * Whose key it is. Keys are scoped by the verified caller when there is one (c.var.auth, set by
 * the auth middleware), else global: the scope is this one line.
 */
const scopeOf = (c: Context): string => (c.var as { auth?: { sub?: string } }).auth?.sub ?? "";

async function fingerprint(c: Context): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  const url = new URL(c.req.url);
  hash.update(`${c.req.method} ${url.pathname}${url.search}\n`);
  hash.update(await c.req.text());
  return hash.digest("hex");
}

/**
 * `Idempotency-Key` on writes: the first answer (status, body, Location/ETag) is stored in
 * Postgres for a day; a retry with the same key gets that answer (`Idempotent-Replayed: true`)
 * and never applies the write twice; the same key with another method, path or body is a 422;
 * a retry while the first is still running is a 409 with Retry-After.
 *
 * Mounted inside the request timeout: when the client already got a 504, this still waits for
 * the handler's real outcome. A 2xx/4xx is final and recorded (a write that committed just as
 * the timeout fired is found by the retry); a 5xx means the write did not happen (the statement
 * failed or was cancelled and rolled back), so the claim is dropped and a retry applies it once.
 */
export function idempotency(opts: IdempotencyOptions): MiddlewareHandler {
  const { store } = opts;
  const purgeEvery = opts.purgeEvery ?? 1000;
  return async function idempotency(c, next) {
    const key = c.req.header("idempotency-key");
    if (key === undefined) return next();
    if (!KEY.test(key)) {
      throw new ApiError(400, "validation_failed", "invalid Idempotency-Key", [
        { location: "header", path: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
      ]);
    }
    const scope = scopeOf(c);
    const owner = crypto.randomUUID();
    const claim = await store.claim(scope, key, await fingerprint(c), owner);
    if (claim.kind === "mismatch") {
      throw new ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request", [
        { location: "header", path: "Idempotency-Key", message: "already used with another method, path or body" },
      ]);
    }
    if (claim.kind === "in_progress") {
      throw new ApiError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still in progress; retry later", undefined, {
        "Retry-After": "1",
      });
    }
    if (claim.kind === "done") return replay(c, claim.response);
    if (Math.random() * purgeEvery < 1) void requestStore.exit(() => store.purge()).catch(() => {});

    await next();
    // Outside the request's scope: if it timed out, its own statements are refused from now on,
    // but recording its outcome must still happen.
    const res = c.res;
    await requestStore.exit(async () => {
      if (res.status >= 500) return store.release(scope, key, owner);
      const headers: Record<string, string> = {};
      for (const h of KEPT) {
        const v = res.headers.get(h);
        if (v !== null) headers[h] = v;
      }
      return store.complete(scope, key, owner, { status: res.status, headers, body: await res.clone().text() });
    }).catch(() => {
      // The client still gets the real answer. The claim stays "in progress" (409) until its
      // lease ends; a retry after that applies the write again: the one case a key cannot cover.
    });
  };
}

function replay(c: Context, stored: StoredResponse): Response {
  const headers = { ...stored.headers, "Idempotent-Replayed": "true" };
  return c.newResponse(stored.status === 204 ? null : stored.body, stored.status as 200, headers);
}
