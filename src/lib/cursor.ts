import { ApiError } from "./errors";

// Opaque keyset cursor: the (created_at, id) of the last row served, base64url-encoded. Opaque
// so clients cannot depend on its layout; validated on the way in so a forged one is a 400.
export interface Cursor {
  at: string;
  id: number;
}

export function encodeCursor(c: { createdAt: Date | string; id: number }): string {
  const at = c.createdAt instanceof Date ? c.createdAt.toISOString() : new Date(c.createdAt).toISOString();
  return Buffer.from(`${at}|${c.id}`).toString("base64url");
}

const ISO_MS = /^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;

export function decodeCursor(raw: string): Cursor {
  const bad = () =>
    new ApiError(400, "validation_failed", "invalid query", [
      { location: "query", path: "cursor", message: "not a cursor returned by this API" },
    ]);
  if (raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  const [at, idText, extra] = Buffer.from(raw, "base64url").toString("utf8").split("|");
  // Exactly what encodeCursor writes: a 4-digit-year ISO instant (years 0001-9999; JS also
  // prints "+275760-…" and "-000001-…", which Postgres rejects as out of range, and year 0000
  // does not exist in Postgres) and a plain positive int4.
  if (extra !== undefined || !ISO_MS.test(at ?? "") || !/^[1-9][0-9]{0,9}$/.test(idText ?? "")) throw bad();
  const id = Number(idText);
  const ms = Date.parse(at!);
  if (id > 2 ** 31 - 1 || Number.isNaN(ms) || new Date(ms).toISOString() !== at) throw bad();
  return { at: at!, id };
}
