import type { Results } from "./report";
import { ENDPOINT_LABEL, ENDPOINTS } from "./zipf";

// Latency distributions as an SVG: one panel per endpoint, latency (log scale, shared by all
// panels) against percentile on the usual HdrHistogram axis (50, 90, 99, 99.9 … evenly spaced).

const SERIES: [string, string, string][] = [
  ["before", "#d62728", ""],
  ["after", "#1f77b4", ""],
  ["limit-redis", "#2ca02c", ""],
  ["limit-pg", "#2ca02c", ""],
  ["limit-fixed", "#7f7f7f", "4 3"],
];
const W = 430;
const H = 250;
const PAD = { l: 58, r: 12, t: 28, b: 34 };
const COLS = 2;

const xOf = (p: number) => Math.log10(1 / Math.max(1e-5, 1 - p / 100)); // 0 … 5 (max)
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function renderChart(r: Results): string {
  const panels = ENDPOINTS.filter((e) => SERIES.some(([s]) => r.cells[`${s}/${e}`]));
  const all = panels.flatMap((e) => SERIES.flatMap(([s]) => r.cells[`${s}/${e}`]?.summary.dist.map(([, v]) => v) ?? [])).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...all, 10)));
  const rows = Math.ceil(panels.length / COLS);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * COLS}" height="${H * rows + 40}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">Latency distribution per endpoint (${esc(String(r.meta.profile))} run, ${r.meta.connections} connections; median of the windows)</text>`,
  ];
  const legend: [string, string, string][] = [
    ["before (naive)", "#d62728", ""],
    ["after (the service)", "#1f77b4", ""],
    ["limit (raw ioredis / postgres.js server)", "#2ca02c", ""],
    ["fixed body (HTTP ceiling)", "#7f7f7f", "4 3"],
  ];
  let x0 = 10;
  for (const [text, color, dash] of legend) {
    out.push(`<line x1="${x0}" y1="32" x2="${x0 + 24}" y2="32" stroke="${color}" stroke-width="2.5" stroke-dasharray="${dash}"/>`,
      `<text x="${x0 + 30}" y="36">${text}</text>`);
    x0 += 40 + text.length * 6;
  }
  panels.forEach((e, i) => {
    const ox = (i % COLS) * W;
    const oy = 40 + Math.floor(i / COLS) * H;
    const pw = W - PAD.l - PAD.r;
    const ph = H - PAD.t - PAD.b;
    const px = (p: number) => ox + PAD.l + (xOf(p) / 5) * pw;
    const py = (v: number) => oy + PAD.t + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * ph;
    out.push(`<text x="${ox + PAD.l}" y="${oy + 18}" font-weight="bold">${esc(ENDPOINT_LABEL[e])}</text>`);
    out.push(`<rect x="${ox + PAD.l}" y="${oy + PAD.t}" width="${pw}" height="${ph}" fill="none" stroke="#bbb"/>`);
    for (let d = lo; d <= hi; d++) {
      const y = py(10 ** d);
      const text = 10 ** d >= 1000 ? `${10 ** (d - 3)} s` : `${+(10 ** d).toPrecision(1)} ms`;
      out.push(`<line x1="${ox + PAD.l}" y1="${y}" x2="${ox + PAD.l + pw}" y2="${y}" stroke="#eee"/>`,
        `<text x="${ox + PAD.l - 4}" y="${y + 4}" text-anchor="end">${text}</text>`);
    }
    for (const [p, t] of [[0, "0"], [50, "50"], [90, "90"], [99, "99"], [99.9, "99.9"], [99.99, "99.99"], [100, "max"]] as const) {
      out.push(`<text x="${px(p)}" y="${oy + PAD.t + ph + 14}" text-anchor="middle">${t}</text>`);
    }
    out.push(`<text x="${ox + PAD.l + pw / 2}" y="${oy + H - 6}" text-anchor="middle" fill="#555">percentile</text>`);
    for (const [s, color, dash] of SERIES) {
      const cell = r.cells[`${s}/${e}`];
      if (!cell) continue;
      const pts = cell.summary.dist.filter(([, v]) => Number.isFinite(v)).map(([p, v]) => `${px(p).toFixed(1)},${py(v).toFixed(1)}`);
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}" points="${pts.join(" ")}"/>`);
    }
  });
  out.push("</svg>");
  return out.join("\n");
}
