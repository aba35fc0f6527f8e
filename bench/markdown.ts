import type { Results } from "./report";
import type { Spread } from "./stats";
import { ENDPOINT_LABEL, type Endpoint } from "./zipf";

// Results → bench/results/<name>.md (also printed). Medians over the measured windows; [min–max]
// is the spread over those windows. Factors and ratios are what to read; absolute times vary.

export const ms = (x: number): string =>
  !Number.isFinite(x) ? "—" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`;
const num = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
const x = (f: number) => (!Number.isFinite(f) ? "—" : f >= 100 ? `${f.toFixed(0)}×` : f >= 10 ? `${f.toFixed(1)}×` : `${f.toFixed(2)}×`);
const range = (s: Spread, f: (n: number) => string) => `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
const pct = (r: number | null) => (r === null ? "—" : `${(r * 100).toFixed(1)} %`);
const cpu = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "—");
const OTHER_LABEL: Record<string, string> = {
  "doc-cold": "GET /documents/:id (uniform ids, cold)",
  patchDoc: "PATCH /documents/:id (write)",
  list100: "GET /users/:id/documents?limit=100 (100 items)",
};
const label = (e: string) => ENDPOINT_LABEL[e as Endpoint] ?? OTHER_LABEL[e] ?? e;
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(" | ")} |`, `| ${head.map((h, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

export function renderMarkdown(r: Results): string {
  const m = r.meta as Record<string, any>;
  const c = (k: string) => r.cells[k]?.summary;
  const out: string[] = [
    `# hotpath benchmark (${m.profile})`,
    "",
    `\`${m.command}\` — ${m.date}, ${m.durationS} s. ${m.users.toLocaleString("en-US")} users, ${m.documents.toLocaleString("en-US")} documents; ` +
      `${m.machine}; load: ${m.generator}, ${m.connections} connections, closed loop, Zipf-like ids (s = 1); ` +
      `${m.windows} measured window(s) per cell after a warm-up to stable throughput; medians, [min–max] over windows.`,
    "",
  ];
  const others = (m.concurrentBenchmarks ?? []) as string[];
  if (others.length) out.push(`> **Warning:** other benchmarks ran alongside this one (${others.length}); expect skewed numbers. The "other load" column of the last table shows how many cores other work took per cell.`, "");
  const mixedB = c("before/mixed");
  const mixedA = c("after/mixed");
  const first = r.explain.find((p) => p.label.startsWith("first page, with"));
  const firstNo = r.explain.find((p) => p.label.startsWith("first page, without"));
  if (mixedB && mixedA) {
    out.push("## Before → after (the seed's table, on our data)", "");
    const row = (name: string, seed: string, b: number, a: number, f: (n: number) => string, target: string, factor = b / a) =>
      [name, seed, f(b), f(a), x(factor), target];
    const cpuCut = `−${(100 * (1 - mixedA.cpuMsPerReq.postgres / mixedB.cpuMsPerReq.postgres)).toFixed(1)} %`;
    out.push(
      table(["", "seed claim", "before", "after", "factor", "target"], [
        row("Average response time (mixed workload)", "280 ms → 45 ms", mixedB.avgMs.median, mixedA.avgMs.median, ms, "≥ 10×"),
        row("p99 (mixed workload)", "1.2 s → 12 ms", mixedB.p99Ms.median, mixedA.p99Ms.median, ms, "≥ 50×"),
        row("Database CPU per request (mixed)", "−60 %", mixedB.cpuMsPerReq.postgres, mixedA.cpuMsPerReq.postgres, (v) => `${cpu(v)} ms`, cpuCut),
        row("Throughput (mixed)", "", mixedB.rps.median, mixedA.rps.median, (v) => `${num(v)}/s`, "", mixedA.rps.median / mixedB.rps.median),
        ...(first && firstNo ? [row("List query, EXPLAIN ANALYZE execution", "340 ms → 4 ms", firstNo.executionMs, first.executionMs, ms, "< 1 ms with the index")] : []),
      ]),
      "",
    );
  }
  if (r.beforeAfter.length) {
    out.push("## Per endpoint: before → after", "");
    out.push(table(["endpoint", "req/s before → after", "avg before → after", "p99 before → after", "avg ×", "p99 ×", "DB CPU ms/req before → after", "hit ratio after"],
      r.beforeAfter.map((f) => {
        const b = c(`before/${f.endpoint}`)!;
        const a = c(`after/${f.endpoint}`)!;
        return [label(f.endpoint), `${num(b.rps.median)} → ${num(a.rps.median)}`, `${ms(b.avgMs.median)} → ${ms(a.avgMs.median)}`,
          `${ms(b.p99Ms.median)} → ${ms(a.p99Ms.median)}`, x(f.avg), x(f.p99), `${cpu(b.cpuMsPerReq.postgres)} → ${cpu(a.cpuMsPerReq.postgres)}`, pct(a.hitRatio)];
      })), "");
  }
  if (r.limits.length) {
    out.push("## How close to the limit: after ÷ fastest possible server", "");
    out.push(table(["comparison", "req/s", "limit req/s", "ratio [min–max]", "target"], r.limits.map((l) => [
      l.name, num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      l.target ? `≥ ${l.target} ${l.rps.median >= l.target ? "✅" : "❌"}` : "(reference)",
    ])), "");
  }
  if (r.instrumentation.length) {
    out.push("## Instrumentation cost: INSTRUMENTATION on ÷ off, and the request log (LOG_LEVEL=info ÷ warn)", "");
    out.push(table(["comparison (cached profile read)", "req/s", "baseline req/s", "req/s ratio [min–max]", "server CPU ms/req → baseline", "server CPU ratio [min–max]"], r.instrumentation.map((l) => [
      l.name, num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      `${cpu(c(l.a)!.cpuMsPerReq.server)} → ${cpu(c(l.b)!.cpuMsPerReq.server)}`, l.serverCpu ? range(l.serverCpu, (v) => v.toFixed(2)) : "—",
    ])), "", "Request log: one JSON line per request on stdout, written to a file. Server CPU is the service process's, from /proc.", "");
  }
  if (r.tracing?.length) {
    out.push("## Tracing cost: OpenTelemetry export at sampling ratio 1.0 and 0.01 ÷ no endpoint", "");
    out.push(table(["cell", "traced req/s", "off req/s", "traced ÷ off [min–max]", "avg traced → off", "server CPU/req traced → off"], r.tracing.map((l) => [
      l.name, num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      `${ms(c(l.a)!.avgMs.median)} → ${ms(c(l.b)!.avgMs.median)}`, `${ms(c(l.a)!.cpuMsPerReq.server)} → ${ms(c(l.b)!.cpuMsPerReq.server)}`,
    ])), "");
  }
  if (r.auth?.length) {
    out.push("## Authentication cost: bearer JWT + limits on ÷ AUTH=off", "");
    out.push(table(["endpoint", "on req/s", "off req/s", "on ÷ off [min–max]", "avg on → off", "server CPU/req on → off"], r.auth.map((l) => [
      label(l.a.split("/")[1]!), num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      `${ms(c(l.a)!.avgMs.median)} → ${ms(c(l.b)!.avgMs.median)}`, `${ms(c(l.a)!.cpuMsPerReq.server)} → ${ms(c(l.b)!.cpuMsPerReq.server)}`,
    ])), "");
  }
  if (r.scaleOut?.length) {
    out.push("## Scale-out: workers and a read replica", "");
    out.push(table(["comparison", "req/s", "baseline req/s", "ratio [min–max]", "server CPU/req", "Postgres CPU/req", "target"], r.scaleOut.map((l) => [
      l.name, num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      `${ms(c(l.b)!.cpuMsPerReq.server)} → ${ms(c(l.a)!.cpuMsPerReq.server)}`, `${ms(c(l.b)!.cpuMsPerReq.postgres)} → ${ms(c(l.a)!.cpuMsPerReq.postgres)}`,
      l.target ? `≥ ${l.target} ${l.rps.median >= l.target ? "✅" : "❌"}` : "(reported)",
    ])), "");
  }
  if (r.compression?.length) {
    out.push("## Compression: `Accept-Encoding: br, gzip` vs none (one server, interleaved)", "");
    const nm = (k: string | undefined, f: (s: NonNullable<ReturnType<typeof c>>) => string) => (k && c(k) ? f(c(k)!) : "—");
    out.push(table(["endpoint", "bytes/response none → br", "compressed ÷ none", "req/s none → br (memo) · br (no memo)", "br ÷ none [min–max]", "server CPU ms/req none → br (memo) · br (no memo)"], r.compression.map((l) => [
      label(l.endpoint), `${num(c(l.none)!.bytesPerResponse)} → ${num(c(l.compressed)!.bytesPerResponse)}`, l.bytes.toFixed(2),
      `${num(c(l.none)!.rps.median)} → ${num(c(l.compressed)!.rps.median)} · ${nm(l.nomemo, (s) => num(s.rps.median))}`, range(l.rps, (v) => v.toFixed(2)),
      `${cpu(c(l.none)!.cpuMsPerReq.server)} → ${cpu(c(l.compressed)!.cpuMsPerReq.server)} · ${nm(l.nomemo, (s) => cpu(s.cpuMsPerReq.server))}`,
    ])), "", "Bytes include the status line and headers. Both servers run with COMPRESS_MIN_BYTES=200: the profile (~130 B of JSON) is under it, not compressed, only negotiated; the cached document (~250–500 B) is compressed once at fill and its hits are sent from the bytes stored in the cache entry. \"no memo\": a second server with COMPRESS_MEMO_BYTES=0 and COMPRESS_CACHE_ENCODINGS=none, where every compressed response runs the encoder.", "");
  }
  if (r.compressionMemory?.length) {
    out.push("### Cache memory of the stored compressed bytes (Redis `MEMORY USAGE`)", "");
    const sizes = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${num(v)}`).join(", ") || "— (under the threshold)";
    out.push(table(["body", "JSON bytes", "stored codings (bytes)", "entry, JSON only", "entry as stored", "as stored ÷ JSON only"], r.compressionMemory.map((m) => [
      m.body, num(m.jsonBytes), sizes(m.coded), num(m.jsonOnly), num(m.stored), (m.stored / m.jsonOnly).toFixed(2),
    ])), "");
  }
  if (r.l1?.length) {
    out.push("## Cache tiers: cached profile read with L1 on and off ÷ raw Bun + ioredis server", "");
    out.push(table(["comparison", "req/s", "raw req/s", "ratio [min–max]", "avg → raw avg", "target"], r.l1.map((l) => [
      l.name, num(c(l.a)!.rps.median), num(c(l.b)!.rps.median), range(l.rps, (v) => v.toFixed(2)),
      `${ms(c(l.a)!.avgMs.median)} → ${ms(c(l.b)!.avgMs.median)}`, l.target ? `≥ ${l.target} ${l.rps.median >= l.target ? "✅" : "❌"}` : "",
    ])), "");
  }
  if (r.invalidation) {
    const v = r.invalidation;
    out.push("## L1 invalidation delay between two instances", "");
    out.push(
      `A PATCH through one instance, then back-to-back reads through another whose L1 held the profile: time from the PATCH's response to the send time of the first read that saw the write (resolution: one read round trip). ${v.probes} probes: ` +
        `**p50 ${ms(v.p50Ms)}, p99 ${ms(v.p99Ms)}**, max ${ms(v.maxMs)}; ${v.staleReads} read(s) in all returned the old value after the write was acknowledged. ` +
        `From the PATCH being sent (the write itself included): p50 ${ms(v.fromSendP50Ms)}, p99 ${ms(v.fromSendP99Ms)}.`,
      "",
    );
  }
  if (r.pool) {
    const pl = r.pool;
    out.push("## Pool size sweep (DB_POOL_MAX)", "");
    out.push(table(["DB_POOL_MAX", ...pl.endpoints.flatMap((e) => [`${label(e)} req/s`, "p99"]), "score"], pl.sizes.map((n) => [
      String(n), ...pl.endpoints.flatMap((e) => [range(c(`pool-${n}/${e}`)!.rps, num), ms(c(`pool-${n}/${e}`)!.p99Ms.median)]), pl.score[n]!.toFixed(2),
    ])), "", `Recommended default: **DB_POOL_MAX=${pl.recommended}** — ${pl.reason}.`, "");
  }
  if (r.targets.length) {
    out.push("## Targets (reported, not asserted)", "");
    out.push(table(["target", "wanted", "measured", ""], r.targets.map((t) => [t.name, t.target, t.name.includes("(ms)") ? ms(t.value) : x(t.value).replace("×", t.name.includes("÷") ? "" : "×"), t.met ? "✅ met" : "❌ not met"])), "");
  }
  out.push("## All cells", "");
  out.push(table(["server / endpoint", "req/s [min–max]", "avg", "p50", "p99 [min–max]", "max", "errors", "hit ratio", "CPU ms/req pg · redis · server · generator", "other load", "window"],
    Object.entries(r.cells).map(([k, v]) => {
      const s = v.summary;
      return [`${v.server} / ${label(v.endpoint)}`, range(s.rps, num), ms(s.avgMs.median), ms(s.p50Ms.median), range(s.p99Ms, ms), ms(s.maxMs), String(s.errors), pct(s.hitRatio),
        [s.cpuMsPerReq.postgres, s.cpuMsPerReq.redis, s.cpuMsPerReq.server, s.cpuMsPerReq.generator].map(cpu).join(" · "),
        `${s.otherCores.toFixed(2)} cores`, `${s.windows} × ${v.windowS} s`];
    })), "");
  if (r.explain.length) {
    out.push("## EXPLAIN ANALYZE of the list query", "");
    for (const p of r.explain) out.push(`**${p.label}** — execution ${ms(p.executionMs)} (median), planning ${ms(p.planningMs)}`, "", "```", p.plan, "```", "");
  }
  out.push(`![latency distributions](${m.chart})`, "");
  return out.join("\n");
}
