import postgres from "postgres";
import { dbUrl, PG_ADMIN_URL, type Profile } from "./config";
import { exec } from "./exec";

// The benchmark owns its databases (never the service's): `db` is migrated and seeded with the
// project's own `bun run db:migrate` / `bun run db:seed`; `naiveDb` is a file-level copy of it
// (CREATE DATABASE ... TEMPLATE) with the three composite/secondary indexes on documents dropped.
// "Only primary key and foreign key" = documents_pkey + the documents.user_id → users.id FK
// constraint; Postgres does not index FK columns, so the naive table has no index on user_id.
export const COMPOSITE_INDEXES = ["documents_user_created_idx", "documents_user_status_created_idx", "documents_created_idx"];

const connect = (url: string) => postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });

async function exists(name: string): Promise<boolean> {
  const admin = connect(PG_ADMIN_URL);
  try {
    return (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
  } finally {
    await admin.end();
  }
}

async function admin(statement: string): Promise<void> {
  const sql = connect(PG_ADMIN_URL);
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}

interface State {
  users: number;
  documents: number;
  indexes: string[];
  marker: string | null;
}

async function state(name: string): Promise<State | null> {
  if (!(await exists(name))) return null;
  const sql = connect(dbUrl(name));
  try {
    const [c] = await sql`select (select count(*) from users)::int as users, (select count(*) from documents)::int as documents`;
    const idx = await sql`select indexname from pg_indexes where tablename = 'documents'`;
    const meta = await sql`select value from bench_meta where key = 'seed'`.catch(() => []);
    return { users: c!.users, documents: c!.documents, indexes: idx.map((r) => r.indexname as string), marker: meta[0]?.value ?? null };
  } catch {
    return { users: -1, documents: -1, indexes: [], marker: null };
  } finally {
    await sql.end();
  }
}

/** Deletes what a mixed workload added (ids past the seeded range) and resyncs the sequences. */
export async function resetWrites(name: string, p: Profile): Promise<void> {
  const sql = connect(dbUrl(name));
  try {
    await sql`delete from documents where id > ${p.documents}`;
    await sql`delete from users where id > ${p.users}`;
    await sql`select setval(pg_get_serial_sequence('users', 'id'), ${p.users + 1}, false)`;
    await sql`select setval(pg_get_serial_sequence('documents', 'id'), ${p.documents + 1}, false)`;
  } finally {
    await sql.end();
  }
}

/** Ensures both databases hold exactly the profile's data set; seeds or copies only what is missing. */
export async function ensureData(p: Profile, say: (line: string) => void): Promise<{ seeded: boolean; copied: boolean }> {
  const want = `${p.users}/${p.documents}`;
  let main = await state(p.db);
  let seeded = false;
  if (main && main.users >= p.users && main.documents >= p.documents && main.marker?.startsWith(want)) {
    if (main.users > p.users || main.documents > p.documents) await resetWrites(p.db, p);
  } else {
    if (!main) await admin(`create database "${p.db}"`);
    const env = { DATABASE_URL: dbUrl(p.db), LOG_LEVEL: "warn", DB_SEED_DEMO: "false", REDIS_URL: "" };
    say(`migrating ${p.db}`);
    await exec(["bun", "run", "db:migrate"], env);
    say(`seeding ${p.db}: ${p.users} users, ${p.documents} documents`);
    await exec(["bun", "run", "db:seed", "--users", String(p.users), "--documents", String(p.documents)], env, (l) =>
      say(`seed: ${l}`),
    );
    await resetWrites(p.db, p);
    const sql = connect(dbUrl(p.db));
    await sql`create table if not exists bench_meta (key text primary key, value text not null)`;
    await sql`insert into bench_meta values ('seed', ${`${want}@${new Date().toISOString()}`})
              on conflict (key) do update set value = excluded.value`;
    await sql.end();
    main = await state(p.db);
    seeded = true;
  }
  const missing = COMPOSITE_INDEXES.filter((i) => !main!.indexes.includes(i));
  if (missing.length) throw new Error(`${p.db} lacks ${missing.join(", ")}: is drizzle/ migrated?`);

  const naive = await state(p.naiveDb);
  const sameData = naive && naive.marker === main!.marker && !COMPOSITE_INDEXES.some((i) => naive.indexes.includes(i));
  if (sameData) {
    if (naive.users !== p.users || naive.documents !== p.documents) await resetWrites(p.naiveDb, p);
    return { seeded, copied: false };
  }
  say(`copying ${p.db} → ${p.naiveDb} without the composite indexes`);
  await admin(`drop database if exists "${p.naiveDb}" with (force)`);
  // TEMPLATE needs the source idle: nothing of ours is connected to it at this point.
  await admin(`create database "${p.naiveDb}" template "${p.db}"`);
  const sql = connect(dbUrl(p.naiveDb));
  try {
    for (const i of COMPOSITE_INDEXES) await sql.unsafe(`drop index if exists "${i}"`);
    await sql`vacuum analyze documents`;
  } finally {
    await sql.end();
  }
  return { seeded, copied: true };
}

/**
 * Loads the tables into the OS page cache (pg_prewarm 'read', a contrib extension that needs no
 * restart) so the first measured requests do not pay for disk reads the others do not. Best effort.
 */
export async function prewarm(name: string): Promise<void> {
  const sql = connect(dbUrl(name));
  try {
    await sql`create extension if not exists pg_prewarm`;
    await sql`select pg_prewarm(c.oid::regclass, 'read') from pg_class c
              where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'i')`;
  } catch {
    // No contrib package: the warm-up loop does the same job, only slower.
  } finally {
    await sql.end();
  }
}

/**
 * After a load run against the naive server: the generator has gone, but up to `connections`
 * of its requests still hold sequential scans. Cancel them (their clients are gone; waiting would
 * cost seconds per run) and wait until the server has no request in flight.
 */
export async function settleNaive(name: string, serverUrl: string): Promise<void> {
  const sql = connect(PG_ADMIN_URL);
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                where datname = ${name} and backend_type = 'client backend' and pid <> pg_backend_pid()`;
      const n = Number(await fetch(`${serverUrl}/inflight`).then((r) => r.text(), () => "0"));
      if (!(n > 0)) return;
      await Bun.sleep(50);
    }
  } finally {
    await sql.end();
  }
}
