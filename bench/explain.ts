import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Db } from "../src/db/client";
import { boundQuery } from "../src/db/hot-queries";
import { createQueries, type StatementKey } from "../src/db/queries";
import * as schema from "../src/db/schema";
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
  params: unknown[];
  executionMs: number;
  planningMs: number;
  plan: string;
}

// The naive server's own statement (bench/naive/queries.ts): OFFSET paging, every column.
const naive = (user: number, limit: number, offset: number) =>
  `select * from documents where user_id = ${user} order by created_at desc, id desc limit ${limit} offset ${offset}`;

type Query = { sql: string; params: unknown[] };

/** The service's statement `key` from its table (src/db/queries.ts), with these bind values. */
function service(key: StatementKey, values: Record<string, unknown>): Query {
  // A client-less drizzle: it only builds the SQL.
  return boundQuery(createQueries(drizzle.mock({ schema }) as unknown as Db), key, values);
}

async function explain(db: string, label: string, q: Query, repeats: number): Promise<Plan> {
  const sql = postgres(dbUrl(db), { max: 1, onnotice: () => {} });
  try {
    let last = "";
    const exec: number[] = [];
    const plan: number[] = [];
    for (let i = 0; i < repeats + 1; i++) {
      const rows = await sql.unsafe(`explain (analyze, buffers) ${q.sql}`, q.params as never[]);
      last = rows.map((r) => r["QUERY PLAN"]).join("\n");
      if (i === 0) continue; // the first one warms caches
      exec.push(Number(/Execution Time: ([\d.]+) ms/.exec(last)?.[1]));
      plan.push(Number(/Planning Time: ([\d.]+) ms/.exec(last)?.[1]));
    }
    return { label, database: db, sql: q.sql, params: q.params, executionMs: median(exec), planningMs: median(plan), plan: last };
  } finally {
    await sql.end();
  }
}

export async function explainList(p: Profile, w: Workload, hottestUser: number, deepUser: number): Promise<Plan[]> {
  const limit = p.pageSize + 1; // the service asks for one row more to know whether a next page exists
  const offset = (p.nextPage - 1) * p.pageSize;
  const i = w.deepUsers.indexOf(deepUser);
  const [at, id] = Buffer.from(w.keysetCursors[i]!, "base64url").toString().split("|");
  const first = service("docsFirst", { userId: hottestUser, limit });
  const next = service("docsAfter", { userId: deepUser, limit, cursorAt: at, cursorId: Number(id) });
  return [
    await explain(p.db, `first page, with the index (user ${hottestUser})`, first, p.explainRepeats),
    await explain(p.naiveDb, `first page, without the index (user ${hottestUser})`, first, p.explainRepeats),
    await explain(p.db, `page ${p.nextPage} by keyset, with the index (user ${deepUser})`, next, p.explainRepeats),
    await explain(p.naiveDb, `page ${p.nextPage} by OFFSET ${offset}, SELECT *, without the index (the naive server; user ${deepUser})`,
      { sql: naive(deepUser, limit, offset), params: [] }, p.explainRepeats),
  ];
}
