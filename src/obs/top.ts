import type { DatabaseView } from "./pg-stat-statements";
import type { RouteRow, RoutesSnapshot } from "./route-table";

// What `bun run top` (src/scripts/top.ts) prints: the per-route latency table of a running
// service (GET /debug/routes), heaviest route first, and the database's view from
// pg_stat_statements.

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)}%`);

const COLUMNS: [string, (r: RouteRow) => string][] = [
  ["share", (r) => pct(r.timeShare)],
  ["count", (r) => String(r.count)],
  ["p50 ms", (r) => ms(r.p50Ms)],
  ["p95 ms", (r) => ms(r.p95Ms)],
  ["p99 ms", (r) => ms(r.p99Ms)],
  ["max ms", (r) => ms(r.maxMs)],
  ["db ms", (r) => ms(r.meanDbMs)],
  ["q/req", (r) => r.meanQueries.toFixed(1)],
  ["hit", (r) => pct(r.cacheHitRatio)],
  ["errors", (r) => String(Object.entries(r.statuses).reduce((n, [s, c]) => n + (Number(s) >= 500 ? c : 0), 0))],
];

export function renderTable(snap: RoutesSnapshot, url: string): string {
  const rows = [...snap.routes].sort((a, b) => b.timeShare - a.timeShare);
  const names = rows.map((r) => `${r.method} ${r.route}`);
  const w = Math.max(5, ...names.map((n) => n.length));
  const cells = rows.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (name: string, cols: string[]) => [name.padEnd(w), ...cols.map((c, i) => c.padStart(widths[i]!))].join("  ");
  return [
    `hotpath ${url}  up ${snap.uptimeS}s  ${snap.requests} requests  ${(snap.totalMs / 1000).toFixed(2)} s server time`,
    "",
    line("route", COLUMNS.map(([h]) => h)),
    ...rows.map((r, i) => line(names[i]!, cells[i]!)),
  ].join("\n");
}

const DB_COLUMNS: [string, (r: Extract<DatabaseView, { available: true }>["statements"][number]) => string][] = [
  ["total ms", (r) => ms(r.totalMs)],
  ["calls", (r) => String(r.calls)],
  ["mean ms", (r) => ms(r.meanMs)],
  ["rows", (r) => String(r.rows)],
  ["rows/call", (r) => (r.calls ? (r.rows / r.calls).toFixed(1) : "-")],
];

/** pg_stat_statements by total time, our statement names where the text matches; or how to turn it on. */
export function renderDatabaseView(view: DatabaseView): string {
  if (!view.available) {
    return [`database: pg_stat_statements is not available: ${view.reason}.`, "To enable it:", ...view.enable.map((s, i) => `  ${i + 1}. ${s}`)].join("\n");
  }
  const rows = view.statements;
  // Unnamed statements show their normalized text, cut to fit a terminal line.
  const names = rows.map((r) => (r.named ? r.name : r.query.replace(/\s+/g, " ").slice(0, 60)));
  const w = Math.max(9, ...names.map((n) => n.length));
  const cells = rows.map((r) => DB_COLUMNS.map(([, f]) => f(r)));
  const widths = DB_COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (name: string, cols: string[]) => [name.padEnd(w), ...cols.map((c, i) => c.padStart(widths[i]!))].join("  ");
  return [
    `database (pg_stat_statements${view.since ? ` since ${view.since}` : ""}): statements by total time`,
    "",
    line("statement", DB_COLUMNS.map(([h]) => h)),
    ...rows.map((r, i) => line(names[i]!, cells[i]!)),
  ].join("\n");
}

export async function fetchSnapshot(url: string, token: string | undefined): Promise<RoutesSnapshot> {
  const res = await fetch(new URL("/debug/routes", url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 404) throw new Error(`${url}/debug/routes answered 404: set DEBUG_TOKEN on the service and pass the same token`);
  if (!res.ok) throw new Error(`${url}/debug/routes answered ${res.status}`);
  return (await res.json()) as RoutesSnapshot;
}
