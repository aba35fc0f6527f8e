import postgres from "postgres";
import { dbUrl, type Profile } from "./config";
import { median } from "./stats";
import type { Workload } from "./workload";

// EXPLAIN (ANALYZE, BUFFERS) of the list query, with the composite index (the service's database)
// and without it (the naive copy), for the workload's hottest user. Repeated; the median
// "Execution Time" is reported with the last plan's text.

export interface Plan {
  label: string;
  database: string;
  sql: string;
  executionMs: number;
  planningMs: number;
  plan: string;
}

// The service's first-page and next-page statements (src/db/queries.ts), as drizzle emits them.
const COLS = `"id", "title", "status", "created_at", "updated_at"`;
const first = (user: number, limit: number) =>
  `select ${COLS} from "documents" where "documents"."user_id" = ${user} order by "documents"."created_at" desc, "documents"."id" desc limit ${limit}`;
const next = (user: number, limit: number, at: string, id: number) =>
  `select ${COLS} from "documents" where ("documents"."user_id" = ${user} and ("documents"."created_at", "documents"."id") < ('${at}'::timestamptz, ${id}::int)) order by "documents"."created_at" desc, "documents"."id" desc limit ${limit}`;
const naive = (user: number, limit: number, offset: number) =>
  `select * from documents where user_id = ${user} order by created_at desc, id desc limit ${limit} offset ${offset}`;

async function explain(db: string, label: string, text: string, repeats: number): Promise<Plan> {
  const sql = postgres(dbUrl(db), { max: 1, onnotice: () => {} });
  try {
    let last = "";
    const exec: number[] = [];
    const plan: number[] = [];
    for (let i = 0; i < repeats + 1; i++) {
      const rows = await sql.unsafe(`explain (analyze, buffers) ${text}`);
      last = rows.map((r) => r["QUERY PLAN"]).join("\n");
      if (i === 0) continue; // the first one warms caches
      exec.push(Number(/Execution Time: ([\d.]+) ms/.exec(last)?.[1]));
      plan.push(Number(/Planning Time: ([\d.]+) ms/.exec(last)?.[1]));
    }
    return { label, database: db, sql: text, executionMs: median(exec), planningMs: median(plan), plan: last };
  } finally {
    await sql.end();
  }
}

export async function explainList(p: Profile, w: Workload, hottestUser: number, deepUser: number): Promise<Plan[]> {
  const limit = p.pageSize + 1; // the service asks for one row more to know whether a next page exists
  const offset = (p.nextPage - 1) * p.pageSize;
  const i = w.deepUsers.indexOf(deepUser);
  const [at, id] = Buffer.from(w.keysetCursors[i]!, "base64url").toString().split("|");
  return [
    await explain(p.db, `first page, with the index (user ${hottestUser})`, first(hottestUser, limit), p.explainRepeats),
    await explain(p.naiveDb, `first page, without the index (user ${hottestUser})`, first(hottestUser, limit), p.explainRepeats),
    await explain(p.db, `page ${p.nextPage} by keyset, with the index (user ${deepUser})`, next(deepUser, limit, at!, Number(id)), p.explainRepeats),
    await explain(p.naiveDb, `page ${p.nextPage} by OFFSET ${offset}, SELECT *, without the index (the naive server; user ${deepUser})`,
      naive(deepUser, limit, offset), p.explainRepeats),
  ];
}
