import type { LatencyHistogram } from "./latency";

// Our latency histograms (request series, pool waits) rendered without going through
// prom-client: its Histogram validates and hashes the label set on every observe (~0.8 µs, the
// largest single item of the instrumentation's cost in a CPU profile), and a collector of our own
// inside its registry would lean on an undocumented contract. Two outputs, both documented
// formats: the JSON shape of Registry#getMetricsAsJSON (what AggregatorRegistry.aggregate sums
// across workers) and the Prometheus text format 0.0.4, rendered from that JSON.

export interface MetricJson {
  name: string;
  help: string;
  type: "histogram";
  aggregator: "sum";
  values: { labels: Record<string, string | number>; value: number; metricName: string }[];
}

/** Cumulative `le` buckets, _sum (seconds) and _count per series, as a prom-client Histogram has them. */
export function histogramJson(
  name: string,
  help: string,
  series: Iterable<{ labels: Record<string, string>; latency: LatencyHistogram }>,
): MetricJson {
  const values: MetricJson["values"] = [];
  for (const { labels, latency: h } of series) {
    let acc = 0;
    h.bounds.forEach((le, i) => {
      acc += h.le[i]!;
      values.push({ labels: { le, ...labels }, value: acc, metricName: `${name}_bucket` });
    });
    values.push({ labels: { le: "+Inf", ...labels }, value: h.count, metricName: `${name}_bucket` });
    values.push({ labels, value: h.sumMs / 1000, metricName: `${name}_sum` });
    values.push({ labels, value: h.count, metricName: `${name}_count` });
  }
  return { name, help, type: "histogram", aggregator: "sum", values };
}

const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const labelValue = (v: string | number) => (typeof v === "string" ? escape(v).replace(/"/g, '\\"') : v);
const value = (v: number) => (Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v));

/** One metric in the text format (no trailing newline), as prom-client's registry writes it. */
export function histogramText(m: MetricJson): string {
  const lines = [`# HELP ${m.name} ${escape(m.help)}`, `# TYPE ${m.name} ${m.type}`];
  for (const v of m.values) {
    const labels = Object.entries(v.labels).map(([k, x]) => `${k}="${labelValue(x)}"`);
    lines.push(`${v.metricName}${labels.length ? `{${labels.join(",")}}` : ""} ${value(v.value)}`);
  }
  return lines.join("\n");
}
