import postgres from "postgres";
import { encodeCursor } from "../src/lib/cursor";
import { dbUrl, type Profile } from "./config";
import { encodeOffset } from "./naive/queries";
import { BENCH_TOKEN } from "./auth";
import { multiplierFor, type Endpoint, type Kind, type Spec } from "./zipf";

// The workload's fixed inputs, computed once per run from the data set:
// - ids: Zipf-like, s = 1 (see zipf.ts), scattered over the id space by a multiplicative permutation;
// - "next page" = page `nextPage` (5: rows 81–100 at 20 per page) of a user who has at least that
//   many documents (1 975 of the 10 000 users in the full set), Zipf over those users. For the
//   service that is the keyset cursor after row 80 (what following nextCursor 4 times returns),
//   for the naive server its offset cursor (OFFSET 80): both read the same 20 rows.

export interface Workload {
  deepUsers: number[];
  /** Keyset cursors for the service and the postgres.js limit server; one per deep user. */
  keysetCursors: string[];
  /** The naive server's cursor for the same page. */
  offsetCursor: string;
}

export async function loadWorkload(p: Profile): Promise<Workload> {
  const sql = postgres(dbUrl(p.db), { max: 1, onnotice: () => {} });
  const before = (p.nextPage - 1) * p.pageSize;
  try {
    const rows = await sql`
      select u.user_id, d.created_at, d.id
      from (select user_id from documents group by user_id having count(*) >= ${p.nextPage * p.pageSize}) u
      cross join lateral (select created_at, id from documents where user_id = u.user_id
                          order by created_at desc, id desc offset ${before - 1} limit 1) d
      order by u.user_id`;
    if (rows.length === 0) throw new Error(`no user has ${p.nextPage * p.pageSize} documents: seed more`);
    return {
      deepUsers: rows.map((r) => r.user_id as number),
      keysetCursors: rows.map((r) => encodeCursor({ createdAt: r.created_at as Date, id: r.id as number })),
      offsetCursor: encodeOffset(before),
    };
  } finally {
    await sql.end();
  }
}

export function specFor(p: Profile, w: Workload, kind: Endpoint | Kind, target: "naive" | "keyset", opts: { uniformDocs?: boolean } = {}): Spec {
  return {
    kind: kind as Kind | "mixed",
    users: p.users,
    documents: p.documents,
    s: 1,
    userMul: multiplierFor(p.users),
    docMul: multiplierFor(p.documents),
    deepUsers: w.deepUsers,
    cursors: target === "naive" ? [w.offsetCursor] : w.keysetCursors,
    pageSize: p.pageSize,
    uniformDocs: opts.uniformDocs ?? false,
    nonce: Math.random().toString(36).slice(2, 10),
    token: BENCH_TOKEN,
  };
}
