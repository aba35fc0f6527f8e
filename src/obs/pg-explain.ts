import type { Database } from "../db/client";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Plan Rows"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
  [k: string]: unknown;
}
export interface ExplainResult {
  Plan: PlanNode;
  "Planning Time"?: number;
  "Execution Time"?: number;
  [k: string]: unknown;
}

type PgClient = { unsafe(text: string, params: unknown[], opts?: { prepare?: boolean }): PromiseLike<Record<string, unknown>[]> };
type LiteClient = { query(text: string, params: unknown[]): Promise<{ rows: Record<string, unknown>[] }> };

/**
 * EXPLAIN (<options>, FORMAT JSON) of a statement with its bind parameters, through the driver
 * the service uses (postgres.js `unsafe`, PGlite `query`), so parameter types are inferred the
 * same way as for the real statement. Not prepared: a one-off must not leave a named
 * statement on a pooled connection.
 */
export async function explainJson(
  database: Pick<Database, "db" | "kind">,
  text: string,
  params: readonly unknown[],
  options = "ANALYZE",
): Promise<ExplainResult> {
  const q = `EXPLAIN (${options}, FORMAT JSON) ${text}`;
  const client = (database.db as unknown as { $client: unknown }).$client;
  const rows =
    database.kind === "postgres"
      ? await (client as PgClient).unsafe(q, [...params], { prepare: false })
      : (await (client as LiteClient).query(q, [...params])).rows;
  const raw = rows[0]?.["QUERY PLAN"];
  const plan = (typeof raw === "string" ? JSON.parse(raw) : raw) as ExplainResult[];
  return plan[0]!;
}

/** The plan tree, depth-first. */
export const planNodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(planNodes)];
