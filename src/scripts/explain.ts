import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { createDatabase, queryRows } from "../db/client";
import { hotQueries, representative } from "../db/hot-queries";
import { createQueries } from "../db/queries";
import { env as loadEnv } from "../env";
import { createTelemetry } from "../context/telemetry";
import { explainJson } from "../obs/pg-explain";
import { checkPlan, renderPlan } from "../obs/plan-check";

// `bun run explain [--large-rows N] [--json]`: EXPLAIN (ANALYZE, BUFFERS) of every hot query
// against DATABASE_URL with parameters taken from the data. Exit 0 = every plan is index-driven;
// 1 = some hot query scans or sorts a large table (named in the output); 2 = could not run.

const env = loadEnv();
const { values: args } = parseArgs({
  options: { "large-rows": { type: "string", default: String(env.EXPLAIN_LARGE_ROWS) }, json: { type: "boolean" } },
});
const largeRows = Number(args["large-rows"]);
if (!Number.isFinite(largeRows) || largeRows < 0) {
  console.error("explain: --large-rows must be a non-negative number");
  process.exit(2);
}

const database = await createDatabase(env, createTelemetry());
let code = 0;
try {
  const rep = await representative(database.db);
  if (!rep) {
    console.error("explain: no documents in the database; seed it first (bun run db:seed)");
    process.exit(2);
  }
  const sizes = await queryRows<{ relname: string; n: number }>(
    database.db,
    sql`select relname, reltuples::float8 as n from pg_class where relkind in ('r', 'p') and relnamespace = 'public'::regnamespace`,
  );
  const estimated = new Map(sizes.map((s) => [s.relname, Number(s.n)]));
  const rows: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const failures: string[] = [];
  const notes: string[] = [];
  lines.push(`hot queries on ${database.kind} (user ${rep.userId}, large = over ${largeRows} estimated rows)`, "");
  lines.push(`${"query".padEnd(22)} ${"rows".padStart(6)} ${"exec ms".padStart(9)} ${"buffers hit/read".padStart(16)}  ${"verdict".padEnd(7)}  ${"nodes".padEnd(44)} index`);
  for (const q of hotQueries(createQueries(database.db), rep)) {
    const result = await explainJson(database, q.sql, q.params, "ANALYZE, BUFFERS");
    const s = checkPlan(result, estimated, largeRows);
    const verdict = s.problems.length === 0 ? "ok" : q.allowScan ? "allowed" : "FAIL";
    if (verdict === "allowed") notes.push(`  ${q.name}: ${s.problems.join("; ")}, allowed: ${q.allowScan}`);
    if (verdict === "FAIL") failures.push(`${q.name} (${q.endpoint}): ${s.problems.join("; ")}\n    ${renderPlan(result.Plan).join("\n    ")}`);
    rows.push({ name: q.name, endpoint: q.endpoint, ...s, verdict });
    lines.push(
      `${q.name.padEnd(22)} ${String(s.rows).padStart(6)} ${s.execMs.toFixed(3).padStart(9)} ${`${s.buffers.hit}/${s.buffers.read}`.padStart(16)}  ${verdict.padEnd(7)}  ${s.nodes.padEnd(44)} ${s.indexes}`,
    );
  }
  if (notes.length) lines.push("", ...notes);
  if (failures.length) {
    code = 1;
    lines.push("", `${failures.length} hot ${failures.length === 1 ? "query plans" : "queries plan"} a scan or sort of a large table:`);
    for (const f of failures) lines.push(`  ${f}`);
  } else lines.push("", "all hot queries are index-driven");
  console.log(args.json ? JSON.stringify({ ok: code === 0, queries: rows }, null, 2) : lines.join("\n"));
} catch (err) {
  console.error(`explain: ${(err as Error).message}`);
  code = 2;
} finally {
  await database.close();
}
process.exit(code);
