import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { hotQueries, representative } from "../src/db/hot-queries";
import { seed } from "../src/db/seed";
import { normalizeSql } from "../src/obs/normalize";
import { flushPrefix, harness, type Harness } from "./support/harness";

const TOKEN = "debug-token-0123456789";
const root = fileURLToPath(new URL("..", import.meta.url));
let h: Harness;

beforeAll(async () => {
  // Seeding 100 000 rows may outlast the 5 s statement timeout on a busy machine.
  h = await harness("obs-explain", { env: { DEBUG_TOKEN: TOKEN, DB_STATEMENT_TIMEOUT_MS: "120000" } });
  await seed(h.services.database.db, { users: 2_000, documents: 100_000 });
}, 120_000);
afterAll(() => h.close());

function runExplain() {
  const p = Bun.spawnSync(["bun", "run", "src/scripts/explain.ts"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: h.dbUrl, LOG_LEVEL: "silent", NODE_ENV: "test" },
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("bun run explain", () => {
  test("passes on the seeded database, one line per hot query", () => {
    const r = runExplain();
    expect(r.err).not.toContain("explain:");
    expect(r.code).toBe(0);
    for (const name of ["hp_user_by_id", "hp_docs_first", "hp_docs_after", "hp_docs_first_status", "hp_docs_after_status", "hp_doc_with_author", "hp_user_stats", "hp_flags_all", "hp_flag_by_key", "hp_global_stats"]) {
      expect(r.out).toMatch(new RegExp(`^${name}\\s+\\d+\\s+[\\d.]+\\s+\\d+/\\d+\\s+(ok|allowed)\\s`, "m"));
    }
    expect(r.out).toContain("documents_user_created_idx");
    expect(r.out).toContain("all hot queries are index-driven");
  });

  test("the catalogue is what the service runs: every statement of every hot GET is in it", async () => {
    const rep = (await representative(h.services.database.db))!;
    const catalogue = new Set(hotQueries(h.services.queries, rep).map((q) => normalizeSql(q.sql)));
    const first = await (await h.request(`/users/${rep.userId}/documents?limit=3`)).json();
    const paths = [
      `/users/${rep.userId}`,
      `/users/${rep.userId}/documents`,
      `/users/${rep.userId}/documents?cursor=${first.nextCursor}`,
      `/users/${rep.userId}/documents?status=published`,
      `/users/${rep.userId}/documents?status=published&cursor=${first.nextCursor}`,
      `/documents/${rep.docId}`,
      `/users/${rep.userId}/stats`,
      "/flags",
      `/flags/${rep.flagKey}`,
      "/stats",
    ];
    const seen = new Set<string>();
    for (const path of paths) {
      await flushPrefix(h.redis, h.prefix); // a cache hit runs no statement
      const res = await h.request(path, { headers: { authorization: `Bearer ${TOKEN}`, "x-debug-plan": "1" } });
      const body = await res.json();
      expect(body.status).toBe(200);
      expect(body.statements.length).toBeGreaterThan(0);
      for (const s of body.statements) seen.add(normalizeSql(s.sql));
    }
    expect([...seen].filter((s) => !catalogue.has(s))).toEqual([]);
    expect(seen.size).toBe(catalogue.size);
  });

  test("fails, naming the query, when the composite index is dropped", async () => {
    const admin = postgres(h.dbUrl, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe("drop index documents_user_created_idx");
      const r = runExplain();
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^hp_docs_first\s+\d+\s+[\d.]+\s+\d+\/\d+\s+FAIL/m);
      expect(r.out).toMatch(/hp_docs_first \(GET \/users\/:id\/documents\): .*(Sort|Seq Scan)/);
    } finally {
      await admin.unsafe(
        'create index if not exists documents_user_created_idx on documents (user_id, created_at desc nulls first, id desc nulls first)',
      );
      await admin.end();
    }
  });
});
