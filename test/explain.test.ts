import { afterAll, beforeAll, expect, test } from "bun:test";
import { Placeholder } from "drizzle-orm";
import postgres from "postgres";
import { seed } from "../src/db/seed";
import { harness, type Harness } from "./support/harness";

// The planner's choice is only real on a table of realistic size: 100 000+ documents, analyzed.
let h: Harness;
let sql: postgres.Sql;
let heavyUser: number;
let cursor: { at: string; id: number };

beforeAll(async () => {
  // No statement_timeout: seeding 120 000 rows on a loaded CI box can exceed the 5 s default.
  h = await harness("explain", { env: { DB_STATEMENT_TIMEOUT_MS: "0" } });
  await seed(h.services.database.db, { users: 2_000, documents: 120_000 });
  sql = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
  const [top] = await sql<{ user_id: number }[]>`
    select user_id from documents group by user_id order by count(*) desc limit 1`;
  heavyUser = top!.user_id;
  const [mid] = await sql<{ created_at: Date; id: number }[]>`
    select created_at, id from documents where user_id = ${heavyUser}
    order by created_at desc, id desc offset 50 limit 1`;
  cursor = { at: mid!.created_at.toISOString(), id: mid!.id };
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await h?.close();
});

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/** EXPLAIN (ANALYZE) the exact text of a prepared statement the service runs, with its params. */
async function explain(name: keyof Harness["services"]["queries"], values: Record<string, unknown>) {
  const q = (h.services.queries[name] as unknown as { getQuery(): { sql: string; params: unknown[] } }).getQuery();
  const params = q.params.map((p) => (p instanceof Placeholder ? values[p.name] : p));
  const [row] = await sql.unsafe(`explain (analyze, format json) ${q.sql}`, params as never[]);
  return nodes((row!["QUERY PLAN"] as [{ Plan: PlanNode }])[0].Plan);
}

const hot: [keyof Harness["services"]["queries"], () => Record<string, unknown>, string][] = [
  ["userById", () => ({ id: heavyUser }), "users_pkey"],
  ["docsFirst", () => ({ userId: heavyUser, limit: 21 }), "documents_user_created_idx"],
  ["docsAfter", () => ({ userId: heavyUser, limit: 21, cursorAt: cursor.at, cursorId: cursor.id }), "documents_user_created_idx"],
  ["docsFirstByStatus", () => ({ userId: heavyUser, limit: 21, status: "published" }), "documents_user_status_created_idx"],
  [
    "docsAfterByStatus",
    () => ({ userId: heavyUser, limit: 21, status: "published", cursorAt: cursor.at, cursorId: cursor.id }),
    "documents_user_status_created_idx",
  ],
  ["docWithAuthor", () => ({ id: 777 }), "documents_pkey"],
  ["userStats", () => ({ userId: heavyUser }), "documents_user_status_created_idx"],
];

for (const [name, params, index] of hot) {
  test(`${name}: index scan on ${index}, no Seq Scan, no Sort`, async () => {
    const plan = await explain(name, params());
    const types = plan.map((n) => n["Node Type"]);
    expect(types).not.toContain("Seq Scan");
    expect(types).not.toContain("Sort");
    expect(types).not.toContain("Incremental Sort");
    const scans = plan.filter((n) => n["Node Type"] === "Index Scan" || n["Node Type"] === "Index Only Scan");
    expect(scans.map((n) => n["Index Name"])).toContain(index);
  });
}

test("userStats reads the documents side as an Index Only Scan", async () => {
  const plan = await explain("userStats", { userId: heavyUser });
  const docs = plan.find((n) => n["Relation Name"] === "documents");
  expect(docs?.["Node Type"]).toBe("Index Only Scan");
});

test("without the composite indexes the same list query sorts and filters instead", async () => {
  await sql`begin`;
  try {
    await sql`drop index documents_user_created_idx`;
    await sql`drop index documents_user_status_created_idx`;
    const plan = await explain("docsFirst", { userId: heavyUser, limit: 21 });
    const types = plan.map((n) => n["Node Type"]);
    // The control for the tests above: the same query now needs a (full or incremental) sort.
    expect(types.some((t) => t === "Sort" || t === "Incremental Sort")).toBe(true);
  } finally {
    await sql`rollback`;
  }
});
