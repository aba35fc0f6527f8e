import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { queryRows } from "../src/db/client";
import { seed } from "../src/db/seed";
import { harness, type Harness } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  h = await harness("seed", { env: { DB_STATEMENT_TIMEOUT_MS: "0" } });
});
afterAll(() => h.close());

const counts = async () =>
  (await queryRows<{ users: number; docs: number; owners: number }>(h.services.database.db, sql`
    select (select count(*) from users)::int as users, (select count(*) from documents)::int as docs,
           (select count(distinct user_id) from documents)::int as owners`))[0]!;

test("seeds the asked sizes with progress, is idempotent, and leaves the id sequences usable", async () => {
  const lines: string[] = [];
  await seed(h.services.database.db, { users: 300, documents: 5_000, batch: 2_000, progress: (l) => lines.push(l) });
  expect(await counts()).toMatchObject({ users: 300, docs: 5_000 });
  expect(lines.some((l) => l.startsWith("documents 2000/5000 ("))).toBe(true);
  expect(lines.at(-1)).toMatch(/^done in/);
  // Skewed ownership: many owners, but the top owner has far more than the median.
  const [spread] = await queryRows<{ top: number; median: number }>(h.services.database.db, sql`
    select max(n)::int as top, percentile_disc(0.5) within group (order by n)::int as median
    from (select count(*) as n from documents group by user_id) t`);
  expect(spread!.top).toBeGreaterThan(spread!.median * 5);
  // A rerun changes nothing; a bigger rerun only adds.
  await seed(h.services.database.db, { users: 300, documents: 5_000 });
  expect(await counts()).toMatchObject({ users: 300, docs: 5_000 });
  await seed(h.services.database.db, { users: 300, documents: 6_000 });
  expect((await counts()).docs).toBe(6_000);
  // Explicit ids moved the identity sequences: the API's next create does not collide.
  const res = await h.request("/users", { method: "POST", as: "admin", json: { email: "new@example.com", name: "New" } });
  expect(res.status).toBe(201);
  expect((await res.json()).id).toBe(301);
});

test("bun run db:seed validates its flags", async () => {
  const proc = Bun.spawn(["bun", "run", "src/scripts/seed.ts", "--users", "abc"], { env: { ...process.env, DATABASE_URL: h.dbUrl }, stderr: "pipe" });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("--users");
});
