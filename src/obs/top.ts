import { parseArgs } from "node:util";
import type { RouteRow, RoutesSnapshot } from "./route-table";

// `bun run top [--url http://127.0.0.1:3000] [--token T] [--watch [--interval 2]]`: the per-route
// latency table of a running service (GET /debug/routes), heaviest route first. The token comes
// from --token or DEBUG_TOKEN, the URL from --url or HOTPATH_URL.

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

async function fetchSnapshot(url: string, token: string | undefined): Promise<RoutesSnapshot> {
  const res = await fetch(new URL("/debug/routes", url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 404) throw new Error(`${url}/debug/routes answered 404: set DEBUG_TOKEN on the service and pass the same token`);
  if (!res.ok) throw new Error(`${url}/debug/routes answered ${res.status}`);
  return (await res.json()) as RoutesSnapshot;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: process.env.HOTPATH_URL ?? "http://127.0.0.1:3000" },
      token: { type: "string", default: process.env.DEBUG_TOKEN },
      watch: { type: "boolean", default: false },
      interval: { type: "string", default: "2" },
    },
  });
  const url = values.url!;
  try {
    if (!values.watch) console.log(renderTable(await fetchSnapshot(url, values.token), url));
    else {
      const every = Math.max(0.5, Number(values.interval) || 2) * 1000;
      for (;;) {
        const text = renderTable(await fetchSnapshot(url, values.token), url);
        process.stdout.write(`\x1b[2J\x1b[H${text}\n`);
        await Bun.sleep(every);
      }
    }
  } catch (err) {
    console.error(`top: ${(err as Error).message}`);
    process.exit(1);
  }
}
