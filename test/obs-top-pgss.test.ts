import { afterAll, beforeAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createApp } from "../src/app";
import { createServices, type Services } from "../src/services";
import { bearer } from "./support/auth";
import { testEnv } from "./support/env";
import { startPostgres, type OwnPostgres } from "./support/own-postgres";

// Issue 12: `bun run top` shows the database's view from pg_stat_statements, and says how to turn
// it on when it is not. A Postgres of this test's own, first without the library preloaded, then
// restarted with shared_preload_libraries set.

const TOKEN = "debug-token-0123456789";
const root = fileURLToPath(new URL("..", import.meta.url));

let pg: OwnPostgres | undefined;
let services: Services | undefined;
let server: ReturnType<typeof Bun.serve> | undefined;
let url: string;
let dbUrl: string;

async function stopAll() {
  server?.stop(true);
  await services?.close();
  await pg?.close();
}

beforeAll(async () => {
  try {
    pg = await startPostgres();
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin`create database hotpath_pgss`;
    await admin.end();
    dbUrl = `postgres://postgres@127.0.0.1:${pg.port}/hotpath_pgss`;
  } catch (err) {
    await stopAll();
    throw err;
  }
}, 120_000);
afterAll(stopAll, 60_000);

const top = async (...args: string[]) => {
  const p = Bun.spawn(["bun", "run", "src/scripts/top.ts", ...args], {
    cwd: root,
    env: { ...process.env, DEBUG_TOKEN: "", DATABASE_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
};

test("not enabled: top says which step is missing and how to enable it", async () => {
  // No extension in the database yet.
  let r = await top("--url", "http://127.0.0.1:1", "--database", dbUrl);
  expect(r.out).toContain("pg_stat_statements is not available: CREATE EXTENSION pg_stat_statements has not been run");
  expect(r.out).toContain("shared_preload_libraries = 'pg_stat_statements'");
  expect(r.out).toContain("CREATE EXTENSION pg_stat_statements;");
  // The extension created, but the library not preloaded: the view would stay empty.
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await sql`create extension pg_stat_statements`;
  await sql.end();
  r = await top("--url", "http://127.0.0.1:1", "--database", dbUrl);
  expect(r.out).toContain("pg_stat_statements is not in shared_preload_libraries");
  // The service was not reachable: that is an error (exit 1), the database view printed anyway.
  expect(r.code).toBe(1);
  expect(r.err).toContain("top:");
}, 60_000);

test("enabled: statements by total time, with our statement names matched by normalized text", async () => {
  await pg!.stop();
  await pg!.start({ shared_preload_libraries: "pg_stat_statements" });
  services = await createServices(testEnv({ DATABASE_URL: dbUrl, REDIS_URL: undefined, DEBUG_TOKEN: TOKEN }));
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createApp(services).fetch });
  url = `http://127.0.0.1:${server.port}`;
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await sql`select pg_stat_statements_reset()`;
  await sql.end();
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/users`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await bearer("admin")) },
      body: JSON.stringify({ email: `pgss${i}@example.com`, name: `P${i}` }),
    });
    expect(res.status).toBe(201);
  }
  // Each id read once: three cache misses, three executions of the profile statement (one not found).
  for (const id of [1, 2, 99]) await (await fetch(`${url}/users/${id}`)).text();
  await (await fetch(`${url}/users/1/documents`)).text();

  const r = await top("--url", url, "--token", TOKEN, "--database", dbUrl);
  if (process.env.SHOW_TOP) console.log(r.out);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const lines = r.out.split("\n");
  expect(lines.some((l) => l.startsWith(`hotpath ${url}`))).toBe(true); // the route table is still there
  const head = lines.findIndex((l) => l.startsWith("database (pg_stat_statements"));
  expect(head).toBeGreaterThan(0);
  const header = lines[head + 2]!;
  for (const col of ["statement", "total ms", "calls", "mean ms", "rows", "rows/call"]) expect(header).toContain(col);
  const rows = lines.slice(head + 3).filter((l) => l.trim()).map((l) => l.trim().split(/\s{2,}/));
  const byName = (n: string) => rows.find((c) => c[0] === n);
  expect(byName("hp_user_by_id")?.slice(2, 5)).toEqual(["3", expect.any(String), "2"]); // calls 3, rows 2
  expect(byName("hp_docs_first")?.[2]).toBe("1");
  // Unnamed statements are shown by their normalized text.
  expect(rows.some((c) => c[0]!.startsWith("insert into \"users\""))).toBe(true);
  // Heaviest first.
  const totals = rows.map((c) => Number(c[1]));
  expect(totals).toEqual([...totals].sort((a, b) => b - a));
}, 120_000);
