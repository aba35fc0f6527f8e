import postgres from "postgres";

export interface TableLock {
  /** Commits the locking transaction (the lock goes with it). Safe to call twice. */
  release(): Promise<void>;
}

/**
 * A real lock: another connection runs BEGIN; LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE and
 * keeps the transaction open until release(). Every statement touching the table waits for it.
 */
export async function lockTable(url: string, table: string): Promise<TableLock> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let done!: () => void;
  const held = new Promise<void>((r) => (done = r));
  let locked!: () => void;
  const ready = new Promise<void>((r) => (locked = r));
  const tx = sql
    .begin(async (t) => {
      await t.unsafe(`lock table ${table} in access exclusive mode`);
      locked();
      await held;
    })
    .catch(() => {});
  try {
    await Promise.race([ready, tx.then(() => Promise.reject(new Error(`could not lock ${table}`)))]);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= (async () => {
        done();
        await tx;
        await sql.end({ timeout: 1 });
      })();
      return released;
    },
  };
}

/** Statements of the service (application_name hotpath) that are running or waiting right now. */
export async function activeStatements(url: string): Promise<{ query: string; wait_event_type: string | null }[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await sql<{ query: string; wait_event_type: string | null }[]>`
      select query, wait_event_type from pg_stat_activity
      where datname = current_database() and application_name = 'hotpath' and state <> 'idle' and pid <> pg_backend_pid()`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Polls until `check` holds (waiting for a condition, not asserting a duration); false if it never did. */
export async function eventually(check: () => Promise<boolean> | boolean, tries = 200, everyMs = 25): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await Bun.sleep(everyMs);
  }
  return false;
}
