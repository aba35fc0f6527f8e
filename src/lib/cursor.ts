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

export function decodeCursor(raw: string): Cursor {
  const bad = () =>
    new ApiError(400, "validation_failed", "invalid query", [
      { location: "query", path: "cursor", message: "not a cursor returned by this API" },
    ]);
  if (raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  const [at, idText, extra] = Buffer.from(raw, "base64url").toString("utf8").split("|");
  const id = Number(idText);
  const ms = Date.parse(at ?? "");
  if (extra !== undefined || !Number.isSafeInteger(id) || id < 1 || id > 2 ** 31 - 1 || Number.isNaN(ms)) throw bad();
  if (new Date(ms).toISOString() !== at) throw bad();
  return { at: at!, id };
}
