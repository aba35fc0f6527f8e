import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../src/db/client";
import { statementNames } from "../src/db/hot-queries";
import { harness, type Harness } from "./support/harness";

// What reaches Postgres of the table of statements (src/db/queries.ts; README "Statements and
// what is prepared"). One connection (DB_POOL_MAX=1, no reserved one), so pg_prepared_statements
// read through the service's own pool is the view of the connection that ran the requests.

interface Prepared {
  name: string;
  statement: string;
  from_sql: boolean;
  calls: number;
}

const single = { DB_POOL_MAX: "1", DB_POOL_RESERVED: "0" };

async function prepared(h: Harness): Promise<Prepared[]> {
  return queryRows<Prepared>(
    h.services.database.db,
    sql`select name, statement, from_sql, (generic_plans + custom_plans)::int as calls from pg_prepared_statements`,
  );
}

/**
 * One request of each hot statement (all cache misses), and of each other kind of statement:
 * writes, a conditional write's transaction, GET /users/me, Idempotency-Key records.
 */
async function exercise(h: Harness) {
  const user = await (await h.request("/users", { method: "POST", as: "admin", json: { email: "p@example.com", name: "P" } })).json();
  const doc = await (
    await h.request("/documents", { method: "POST", as: "admin", headers: { "Idempotency-Key": "k1" }, json: { userId: user.id, title: "t" } })
  ).json();
  expect(doc.id).toBeNumber();
  expect((await h.request("/flags/f", { method: "PUT", as: "admin", json: { enabled: true } })).status).toBe(201);
  for (const path of [`/users/${user.id}/documents`, `/users/${user.id}`, `/documents/${doc.id}`, `/users/${user.id}/stats`, "/flags", "/flags/f", "/stats"]) {
    expect((await h.request(path)).status).toBe(200);
  }
  expect((await h.request(`/documents/${doc.id}`, { method: "PATCH", as: "admin", headers: { "if-match": "*" }, json: { title: "u" } })).status).toBe(200);
  expect((await h.request("/users/me", { as: user.id })).status).toBe(200);
  return user.id as number;
}

/** What postgres.js prepares for itself: its startup query of array types, and `commit`. */
const driverOwn = (text: string) => text === "commit" || text.includes("pg_catalog.pg_type");

describe("DB_PREPARE=true (default)", () => {
  let h: Harness;
  let names: Map<string, string>;
  beforeAll(async () => {
    h = await harness("prepared", { env: single });
    names = statementNames(h.services.queries);
  });
  afterAll(() => h?.close());

  test("each hot statement with parameters is a server-side prepared statement on the connection, under postgres.js' name, not ours", async () => {
    const userId = await exercise(h);
    const ours = (await prepared(h)).filter((p) => names.has(p.statement));
    expect(ours.map((p) => names.get(p.statement)).sort()).toEqual(
      ["hp_doc_with_author", "hp_docs_first", "hp_flag_by_key", "hp_user_by_id", "hp_user_stats"].sort(),
    );
    // Protocol-level Parse (not SQL PREPARE), named by postgres.js: the table's names never reach Postgres.
    for (const p of ours) {
      expect(p.from_sql).toBe(false);
      expect(p.name).not.toStartWith("hp_");
    }

    // The next run of the same text on that connection binds the statement already there.
    const before = ours.find((p) => names.get(p.statement) === "hp_docs_first")!;
    await h.request(`/users/${userId}/documents?limit=5`);
    const after = (await prepared(h)).filter((p) => p.statement === before.statement);
    expect(after).toEqual([{ ...before, calls: before.calls + 1 }]);
  });

  test("nothing else of the service's is prepared: not the statements without parameters (GET /flags, GET /stats), writes, transactions, /users/me, Idempotency-Key records", async () => {
    const all = await prepared(h);
    const texts = new Set(all.map((p) => p.statement));
    for (const [text, name] of names) if (name === "hp_flags_all" || name === "hp_global_stats") expect(texts.has(text)).toBe(false);
    expect(all.filter((p) => !names.has(p.statement) && !driverOwn(p.statement))).toEqual([]);
  });
});

describe("DB_PREPARE=false", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("prepared-off", { env: { ...single, DB_PREPARE: "false" } });
  });
  afterAll(() => h?.close());

  test("nothing the service runs is prepared", async () => {
    await exercise(h);
    expect(await prepared(h)).toEqual([]);
  });
});
