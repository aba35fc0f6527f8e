import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { queryRows, type Db } from "./client";

/** The first answer to a write, as stored and replayed. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Claim =
  | { kind: "claimed" }
  | { kind: "in_progress" }
  | { kind: "mismatch" }
  | { kind: "done"; response: StoredResponse };

export interface IdempotencyStoreOptions {
  /** How long a final answer is kept (the issue asks for a day). */
  ttlS: number;
  /** How long a claim protects a request in progress; past it, a retry may take the key over. */
  leaseMs: number;
}

type Arg = string | number | null;

// Each statement is one row by primary key of a small table: a "point" statement for the pool
// queue, so bookkeeping of writes keeps working while a locked documents table holds the general
// share of the pool (a retry must learn "in progress", not wait for a connection).
const statements = {
  claim: (scope: Arg, key: Arg, fingerprint: Arg, owner: Arg, leaseS: Arg, ttlS: Arg) =>
    sql`insert into idempotency_keys (scope, key, fingerprint, owner, locked_until)
        values (${scope}, ${key}, ${fingerprint}, ${owner}, now() + make_interval(secs => ${leaseS}))
        on conflict (scope, key) do update
          set fingerprint = excluded.fingerprint, owner = excluded.owner, status = null, headers = null,
              body = null, created_at = now(), locked_until = excluded.locked_until
          where idempotency_keys.created_at < now() - make_interval(secs => ${ttlS})
             or (idempotency_keys.status is null and idempotency_keys.locked_until < now())
        returning owner`,
  read: (scope: Arg, key: Arg) =>
    sql`select fingerprint, status, headers, body from idempotency_keys where scope = ${scope} and key = ${key}`,
  // ::text first: a string bound straight to jsonb is JSON-encoded again by postgres.js (a jsonb string).
  complete: (scope: Arg, key: Arg, owner: Arg, status: Arg, headers: Arg, body: Arg) =>
    sql`update idempotency_keys set status = ${status}, headers = ${headers}::text::jsonb, body = ${body}
        where scope = ${scope} and key = ${key} and owner = ${owner}`,
  release: (scope: Arg, key: Arg, owner: Arg) =>
    sql`delete from idempotency_keys where scope = ${scope} and key = ${key} and owner = ${owner} and status is null`,
} satisfies Record<string, (...args: Arg[]) => SQL>;

/** Their SQL texts, for Database.setPointStatements. */
export const idempotencyStatements = (): string[] => {
  const dialect = new PgDialect();
  return Object.values(statements).map((build) => dialect.sqlToQuery((build as (...a: Arg[]) => SQL)("", "", "", "", "", "")).sql);
};

/**
 * Idempotency-Key records in Postgres (table idempotency_keys). One statement claims a key:
 * an insert that, on conflict, takes the row over only when it expired or its claim's lease ran
 * out. A row it did not take is read back to tell "same request, still running" (409), "same
 * request, answered" (replay) and "another request under this key" (422).
 */
export function idempotencyStore(db: Db, opts: IdempotencyStoreOptions) {
  const leaseS = opts.leaseMs / 1000;
  return {
    async claim(scope: string, key: string, fingerprint: string, owner: string): Promise<Claim> {
      // A row can vanish between the two statements (its request failed and released it): try again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const [taken] = await queryRows<{ owner: string }>(db, statements.claim(scope, key, fingerprint, owner, leaseS, opts.ttlS));
        if (taken?.owner === owner) return { kind: "claimed" };
        const [row] = await queryRows<{ fingerprint: string; status: number | null; headers: Record<string, string> | null; body: string | null }>(
          db,
          statements.read(scope, key),
        );
        if (!row) continue;
        if (row.fingerprint !== fingerprint) return { kind: "mismatch" };
        if (row.status === null) return { kind: "in_progress" };
        return { kind: "done", response: { status: row.status, headers: row.headers ?? {}, body: row.body ?? "" } };
      }
      return { kind: "in_progress" };
    },

    /** Records the final answer under the key (only the claim's owner can). */
    async complete(scope: string, key: string, owner: string, res: StoredResponse): Promise<void> {
      await db.execute(statements.complete(scope, key, owner, res.status, JSON.stringify(res.headers), res.body));
    },

    /** Drops the claim: the write did not happen, so a retry must be free to apply it. */
    async release(scope: string, key: string, owner: string): Promise<void> {
      await db.execute(statements.release(scope, key, owner));
    },

    /** Deletes answers past their day (claims replace expired rows too; this keeps the table small). */
    async purge(): Promise<void> {
      await db.execute(sql`delete from idempotency_keys where created_at < now() - make_interval(secs => ${opts.ttlS})`);
    },
  };
}

export type IdempotencyStore = ReturnType<typeof idempotencyStore>;
