import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { histogramJson, histogramText } from "../src/obs/exposition";
import { LatencyHistogram } from "../src/obs/latency";
import { HTTP_BUCKETS } from "../src/obs/metrics";
import { fingerprinter, normalizeSql, statementLabel } from "../src/obs/normalize";
import type { ExplainResult } from "../src/obs/pg-explain";
import { checkPlan } from "../src/obs/plan-check";
import { tokenMatches } from "../src/auth/static-token";

describe("normalizeSql", () => {
  test("strips string and number literals, keeps $n parameters", () => {
    expect(normalizeSql("select * from users where email = 'a@b.c' and id = 42 and age > -1.5e3 and x = $1")).toBe(
      "select * from users where email = ? and id = ? and age > -? and x = $1",
    );
  });
  test("escaped quotes, E-strings and dollar quotes are one literal each", () => {
    expect(normalizeSql("select 'it''s', E'a\\'b', $$x 'y' 1$$, $tag$z$tag$")).toBe("select ?, ?, ?, ?");
  });
  test("quoted identifiers and identifiers with digits are untouched", () => {
    expect(normalizeSql('select "t1"."col 2", md5(x), int4 from "table""9" where a1 = 7')).toBe(
      'select "t1"."col 2", md5(x), int4 from "table""9" where a1 = ?',
    );
  });
  test("IN lists and VALUES rows collapse whatever their length", () => {
    const a = normalizeSql("select * from t where id in (1, 2, 3)");
    expect(a).toBe("select * from t where id in (...)");
    expect(normalizeSql("select * from t where id in ($1,$2,$3,$4,$5)")).toBe(a);
    expect(normalizeSql("insert into t (a, b) values ($1, $2), ($3, $4), ($5, default)")).toBe(
      "insert into t (a, b) values (...)",
    );
    expect(normalizeSql("insert into t (a, b) values ($1, $2)")).toBe("insert into t (a, b) values (...)");
  });
  test("comments dropped, whitespace squeezed, casts kept", () => {
    expect(normalizeSql("select /* hint */ 1::int, -- trailing\n  now() - interval '1 day'\n\n")).toBe(
      "select ?::int, now() - interval ?",
    );
  });
  test("a pg_sleep call with literal arguments", () => {
    expect(normalizeSql("select pg_sleep(0.06), 'secret' as s")).toBe("select pg_sleep(?), ? as s");
  });
});

describe("statement labels", () => {
  test("verb + first table", () => {
    expect(statementLabel(normalizeSql('insert into "users" ("email") values ($1)'))).toBe("insert users");
    expect(statementLabel(normalizeSql('update "documents" set "title" = $1'))).toBe("update documents");
    expect(statementLabel(normalizeSql('delete from "documents" where id = $1'))).toBe("delete documents");
    expect(statementLabel("select ?")).toBe("select");
  });
  test("known statements get their name, even with different layout; unknown labels are capped", () => {
    const fp = fingerprinter(new Map([["select  1\n from t where id = $1", "hp_named"]]), { maxLabels: 2 });
    expect(fp("select 1 from t where id = $1").label).toBe("hp_named");
    expect(fp("select * from a").label).toBe("select a");
    expect(fp("select * from b").label).toBe("select b");
    expect(fp("select * from c").label).toBe("other");
    expect(fp("select * from a where x = 5").label).toBe("select a");
    expect(fp("select * from a where x = 5").normalized).toBe("select * from a where x = ?");
  });
});

describe("LatencyHistogram", () => {
  test("count, max and mean are exact; quantiles within 3 %", () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 100); // 0.01 ms … 100 ms
    expect(h.count).toBe(10_000);
    expect(h.maxMs).toBe(100);
    expect(h.sumMs / h.count).toBeCloseTo(50.005, 6);
    for (const [q, want] of [[0.5, 50], [0.95, 95], [0.99, 99], [1, 100]] as const) {
      expect(Math.abs(h.quantile(q) - want) / want).toBeLessThan(0.032);
    }
  });
  test("microsecond resolution below 64 µs, never above max, empty is 0", () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBe(0);
    h.record(0.012);
    h.record(0.05);
    expect(h.quantile(0.5)).toBe(0.012);
    expect(h.quantile(1)).toBe(0.05);
    h.record(5 * 60 * 60 * 1000); // beyond the clamp: still counted, max exact
    expect(h.count).toBe(3);
    expect(h.quantile(1)).toBe(h.maxMs);
  });
});

describe("one series, two views: Prometheus buckets from the same record", () => {
  // Values on, just past and between the bucket edges (ms), including edges the log-linear
  // buckets straddle (0.25 ms = 250 µs) and a value past the last bound.
  const values = [0.05, 0.1, 0.1001, 0.25, 0.2501, 0.3, 1, 2.5, 7, 99.9, 250, 999, 12_000];

  test("the le counts are exact at every bound (v ≤ le), the quantiles still come from the same histogram", () => {
    const h = new LatencyHistogram(HTTP_BUCKETS);
    for (const v of values) h.record(v);
    const cumulative = HTTP_BUCKETS.map((_, i) => h.le.slice(0, i + 1).reduce((a, b) => a + b, 0));
    expect(cumulative).toEqual(HTTP_BUCKETS.map((le) => values.filter((v) => v / 1000 <= le).length));
    expect(h.le.at(-1)).toBe(1); // 12 s: only +Inf
    expect(h.quantile(1)).toBe(12_000);
  });

  test("add() folds series (a route's statuses) into one: counts, buckets, max", () => {
    const a = new LatencyHistogram(HTTP_BUCKETS);
    const b = new LatencyHistogram(HTTP_BUCKETS);
    values.forEach((v, i) => (i % 2 ? a : b).record(v));
    const sum = new LatencyHistogram(HTTP_BUCKETS);
    sum.add(a);
    sum.add(b);
    const all = new LatencyHistogram(HTTP_BUCKETS);
    for (const v of values) all.record(v);
    expect([...sum.le]).toEqual([...all.le]);
    expect([sum.count, sum.maxMs, sum.quantile(0.5)]).toEqual([all.count, all.maxMs, all.quantile(0.5)]);
    expect(sum.sumMs).toBeCloseTo(all.sumMs, 9);
  });

  test("the exposition is the text a prom-client Histogram writes for the same observations", async () => {
    const registry = new Registry();
    const reference = new Histogram({ name: "h_seconds", help: "Help with \\ and\nnewline.", labelNames: ["method", "route"], buckets: HTTP_BUCKETS, registers: [registry] });
    const mine = [
      { labels: { method: "GET", route: '/a/"quoted"' }, latency: new LatencyHistogram(HTTP_BUCKETS) },
      { labels: { method: "POST", route: "/b" }, latency: new LatencyHistogram(HTTP_BUCKETS) },
    ];
    values.forEach((v, i) => {
      const s = mine[i % 2]!;
      s.latency.record(v);
      reference.observe(s.labels, v / 1000);
    });
    const ours = histogramText(histogramJson("h_seconds", "Help with \\ and\nnewline.", mine));
    // Sums differ only in float rounding (ms summed then divided vs seconds summed).
    const sums = (text: string) => text.split("\n").filter((l) => l.startsWith("h_seconds_sum")).map((l) => Number(l.split(" ").at(-1)));
    const rest = (text: string) => text.trim().split("\n").filter((l) => !l.startsWith("h_seconds_sum"));
    const theirs = await registry.metrics();
    expect(rest(ours)).toEqual(rest(theirs));
    sums(ours).forEach((s, i) => expect(s).toBeCloseTo(sums(theirs)[i]!, 12));
  });
});

const node = (type: string, extra: Record<string, unknown> = {}, plans: unknown[] = []) => ({ "Node Type": type, ...extra, Plans: plans });
const plan = (p: unknown): ExplainResult => ({ Plan: p as ExplainResult["Plan"], "Execution Time": 1.5 });
const sizes = new Map([["documents", 100_000], ["feature_flags", 3]]);

describe("checkPlan", () => {
  test("index scans pass; seq scan of a small table passes", () => {
    const ok = checkPlan(plan(node("Limit", { "Actual Rows": 21 }, [node("Index Scan", { "Relation Name": "documents", "Index Name": "i" })])), sizes, 10_000);
    expect(ok.problems).toEqual([]);
    expect(ok.nodes).toBe("Limit > Index Scan");
    expect(ok.indexes).toBe("i");
    expect(ok.rows).toBe(21);
    expect(checkPlan(plan(node("Sort", {}, [node("Seq Scan", { "Relation Name": "feature_flags" })])), sizes, 10_000).problems).toEqual([]);
  });
  test("seq scan and (incremental) sort over a large table fail", () => {
    const seq = checkPlan(plan(node("Seq Scan", { "Relation Name": "documents" })), sizes, 10_000);
    expect(seq.problems).toEqual(["Seq Scan on documents (~100000 rows)"]);
    const sort = checkPlan(plan(node("Limit", {}, [node("Incremental Sort", {}, [node("Index Scan", { "Relation Name": "documents" })])])), sizes, 10_000);
    expect(sort.problems).toEqual(["Incremental Sort over documents (~100000 rows)"]);
  });
});

test("tokenMatches: equal only, never without a configured token", () => {
  expect(tokenMatches("s3cret-token-123456", "s3cret-token-123456")).toBe(true);
  expect(tokenMatches("s3cret-token-12345", "s3cret-token-123456")).toBe(false);
  expect(tokenMatches(undefined, "s3cret-token-123456")).toBe(false);
  expect(tokenMatches("", undefined)).toBe(false);
});
