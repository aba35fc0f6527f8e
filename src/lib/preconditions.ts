import type { Context } from "hono";
import { matchingTag } from "./encoding";
import { ApiError } from "./errors";
import { etagOf } from "./respond";

/**
 * If-Match on a write (optimistic concurrency). The repository reads the resource's current
 * representation — the JSON its GET would send, built from the same columns — in the write's own
 * transaction with FOR UPDATE, compares, and writes in that transaction: no other write can land
 * between the check and the write, so a 412 means the resource really changed since the client
 * read it, and the write did nothing (no row touched, no cache entry evicted).
 *
 * Any ETag the GET sent for it matches, in any coding and with or without W/ (the hash names the
 * JSON itself; weak comparison on purpose, see README "Conditional requests"); "*" matches any
 * existing resource.
 */
export const ifMatchOf = (c: Context): string | undefined => c.req.header("if-match");

/** Throws 412 unless `header` names `current` (undefined: there is no current version to match). */
export function requireMatch(header: string, current: unknown): void {
  if (current === undefined || matchingTag(header, etagOf(JSON.stringify(current))) === undefined) {
    throw new ApiError(412, "precondition_failed", "the resource changed since it was read (If-Match names another version); read it again");
  }
}
