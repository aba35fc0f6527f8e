/**
 * What a cache entry holds: the JSON text, when it stops being fresh, and the compressed
 * representations made when it was filled (coding → bytes), so a hit is sent without running an
 * encoder. All three live in one value: one SET stores them, one DEL drops them, so bytes can
 * never outlive — or predate — the JSON they encode.
 */
export interface Entry {
  /** Epoch ms; past it the entry is only served inside the grace window. */
  freshUntil: number;
  json: string;
  /** Codings stored beside the JSON (COMPRESS_CACHE_ENCODINGS, lib/encoding.ts precompressor); absent under the threshold. */
  coded?: Readonly<Record<string, Uint8Array>>;
}

// Serialized (Redis): an ASCII header, then the JSON's UTF-8, then each coding's bytes:
//   "E4|<freshUntil>|<json bytes>|br:<n>,gzip:<n>\n<json><br bytes><gzip bytes>"
// The magic marks this format (v3 was "<freshUntil>|<json>"): anything else, a truncated value
// or lengths that do not add up, reads as a miss. Binary, not base64: a third smaller.
const MAGIC = "E4|";
const NL = 10;

export function serializeEntry(e: Entry): Buffer {
  const json = Buffer.from(e.json);
  const parts: Uint8Array[] = [json];
  const sizes: string[] = [];
  for (const [coding, bytes] of Object.entries(e.coded ?? {})) {
    sizes.push(`${coding}:${bytes.byteLength}`);
    parts.push(bytes);
  }
  return Buffer.concat([Buffer.from(`${MAGIC}${Math.round(e.freshUntil)}|${json.byteLength}|${sizes.join(",")}\n`, "latin1"), ...parts]);
}

const count = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN);

/** The entry in a stored value, or undefined for anything not written by serializeEntry. */
export function parseEntry(raw: Uint8Array): Entry | undefined {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < 4 || buf.toString("latin1", 0, 3) !== MAGIC) return undefined;
  const nl = buf.indexOf(NL, 3);
  if (nl < 0) return undefined;
  const [until, jsonLen, codings = ""] = buf.toString("latin1", 3, nl).split("|");
  const freshUntil = count(until);
  const n = count(jsonLen);
  if (!Number.isFinite(freshUntil) || !Number.isFinite(n)) return undefined;
  let at = nl + 1 + n;
  let coded: Record<string, Uint8Array> | undefined;
  for (const c of codings ? codings.split(",") : []) {
    const [coding, size] = c.split(":");
    const len = count(size);
    if (!coding || !Number.isFinite(len) || at + len > buf.length) return undefined;
    // A copy: the entry may be kept (L1) and must not pin the whole reply buffer.
    (coded ??= {})[coding] = new Uint8Array(buf.subarray(at, at + len));
    at += len;
  }
  if (at !== buf.length) return undefined;
  return { freshUntil, json: buf.toString("utf8", nl + 1, nl + 1 + n), coded };
}

/**
 * The JSON inside a stored value (tests and tools reading Redis directly); null if none. Takes the
 * raw bytes (getBuffer) or the value read as text (get): the compressed bytes do not survive
 * UTF-8 decoding, but the header and the JSON before them do.
 */
export function entryJson(raw: string | Uint8Array | null): string | null {
  if (raw === null) return null;
  if (typeof raw !== "string") return parseEntry(raw)?.json ?? null;
  const head = /^E4\|\d+\|(\d+)\|[^\n]*\n/.exec(raw);
  return head ? Buffer.from(raw.slice(head[0].length)).toString("utf8", 0, Number(head[1])) : null;
}
