import { planNodes, type ExplainResult, type PlanNode } from "./pg-explain";

// What `bun run explain` judges. A plan is bad when it reads a large table in full (Seq Scan)
// or sorts rows coming from one: both grow with the table, not with the page asked for. Small
// tables (flags) may be scanned: the planner is right to prefer that there.

export interface PlanSummary {
  nodes: string;
  indexes: string;
  rows: number;
  execMs: number;
  planMs: number;
  buffers: { hit: number; read: number };
  problems: string[];
}

const scansOf = (n: PlanNode) => planNodes(n).filter((x) => x["Relation Name"] !== undefined);

/** `estimatedRows`: reltuples per table name; tables above `largeRows` count as large. */
export function checkPlan(result: ExplainResult, estimatedRows: ReadonlyMap<string, number>, largeRows: number): PlanSummary {
  const all = planNodes(result.Plan);
  const large = (rel: string | undefined) => rel !== undefined && (estimatedRows.get(rel) ?? 0) > largeRows;
  const size = (rel: string) => `~${Math.round(estimatedRows.get(rel) ?? 0)} rows`;
  const problems: string[] = [];
  for (const n of all) {
    const type = n["Node Type"];
    if (type === "Seq Scan" && large(n["Relation Name"])) {
      problems.push(`Seq Scan on ${n["Relation Name"]} (${size(n["Relation Name"]!)})`);
    }
    if (type === "Sort" || type === "Incremental Sort") {
      const fed = scansOf(n).map((s) => s["Relation Name"]!).filter(large);
      for (const rel of new Set(fed)) problems.push(`${type} over ${rel} (${size(rel)})`);
    }
  }
  const seen = new Set<string>();
  const types = all.map((n) => n["Node Type"]).filter((t) => !seen.has(t) && seen.add(t));
  return {
    nodes: types.join(" > "),
    indexes: [...new Set(all.map((n) => n["Index Name"]).filter((x): x is string => !!x))].join(", ") || "-",
    rows: result.Plan["Actual Rows"] ?? 0,
    execMs: result["Execution Time"] ?? 0,
    planMs: result["Planning Time"] ?? 0,
    buffers: { hit: result.Plan["Shared Hit Blocks"] ?? 0, read: result.Plan["Shared Read Blocks"] ?? 0 },
    problems,
  };
}

/** An indented one-line-per-node rendering, for the failing queries' full picture. */
export function renderPlan(n: PlanNode, depth = 0): string[] {
  const on = n["Relation Name"] ? ` on ${n["Relation Name"]}` : "";
  const dir = n["Scan Direction"] === "Backward" ? " Backward" : "";
  const using = n["Index Name"] ? `${dir} using ${n["Index Name"]}` : "";
  const removed = n["Rows Removed by Filter"] ? ` removed by filter=${n["Rows Removed by Filter"]}` : "";
  const rows = n["Actual Rows"] !== undefined ? `  (rows=${n["Actual Rows"]} loops=${n["Actual Loops"] ?? 1}${removed})` : "";
  const line = `${"  ".repeat(depth)}${depth ? "-> " : ""}${n["Node Type"]}${using}${on}${rows}`;
  return [line, ...(n.Plans ?? []).flatMap((c) => renderPlan(c, depth + 1))];
}
