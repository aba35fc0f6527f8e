import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Sql, TransactionSql } from "postgres";
import { currentStats } from "../obs/context";
import type { Telemetry } from "../obs/events";

// drizzle's Logger has no duration hook, so queries are timed here, at the driver, for both
// postgres.js and PGlite. Transactions hand drizzle a separate client object (begin/savepoint,
// PGlite's transaction): those are wrapped too so statements inside a transaction are counted.

export interface PoolGauge {
  inFlight: number;
}

function track<T>(
  tel: Telemetry,
  gauge: PoolGauge,
  text: string,
  params: readonly unknown[],
  run: () => PromiseLike<T>,
  rowsOf: (r: T) => number,
): Promise<T> {
  const stats = currentStats();
  const start = performance.now();
  gauge.inFlight++;
  const done = (rows: number, error?: string) => {
    gauge.inFlight--;
    const durMs = performance.now() - start;
    if (stats) {
      stats.dbMs += durMs;
      stats.queries++;
      if (stats.captureStatements) stats.statements.push({ sql: text, params, durMs, rows, error });
    }
    if (tel.query.active) tel.query.emit({ sql: text, params, durMs, rows, error, stats });
  };
  return Promise.resolve(run()).then(
    (r) => {
      done(rowsOf(r));
      return r;
    },
    (err: unknown) => {
      done(0, (err as { code?: string })?.code ?? "error");
      throw err;
    },
  );
}

const countRows = (r: unknown): number => {
  const x = r as { count?: number | null; length?: number; rows?: unknown[]; affectedRows?: number };
  return x?.rows?.length ?? x?.affectedRows ?? x?.count ?? x?.length ?? 0;
};

type AnySql = Sql | TransactionSql;

/** A stand-in for postgres.js' sql object exposing exactly what drizzle calls. */
export function instrumentPostgres(sql: AnySql, tel: Telemetry, gauge: PoolGauge): Sql {
  const unsafe = (text: string, params: unknown[] = [], opts?: { prepare?: boolean }) => {
    let values = false;
    // postgres.js sends a query when it is awaited; .values() must be applied before that.
    const pending = {
      values() {
        values = true;
        return pending;
      },
      then<A, B>(ok?: (v: any) => A, fail?: (e: unknown) => B) {
        return track(tel, gauge, text, params, () => {
          const q = sql.unsafe(text, params as never[], opts);
          return values ? q.values() : q;
        }, countRows).then(ok, fail);
      },
      catch<B>(fail: (e: unknown) => B) {
        return pending.then(undefined, fail);
      },
    };
    return pending;
  };
  const wrapped = {
    options: (sql as Sql).options,
    unsafe,
    begin: (...args: unknown[]) => {
      const fn = args.pop() as (tx: unknown) => unknown;
      return (sql as Sql).begin(...(args as [string]), (tx) => fn(instrumentPostgres(tx, tel, gauge)));
    },
    savepoint: (...args: unknown[]) => {
      const fn = args.pop() as (tx: unknown) => unknown;
      return (sql as TransactionSql).savepoint(...(args as [string]), (tx) => fn(instrumentPostgres(tx, tel, gauge)));
    },
    end: (opts?: { timeout?: number }) => (sql as Sql).end(opts),
  };
  return wrapped as unknown as Sql;
}

type PgliteLike = Pick<PGlite, "query" | "transaction">;

/** PGlite is a class instance; a Proxy keeps every other method working untouched. */
export function instrumentPglite<T extends PgliteLike | Transaction>(pg: T, tel: Telemetry, gauge: PoolGauge): T {
  return new Proxy(pg, {
    get(target, prop, receiver) {
      if (prop === "query") {
        return (text: string, params: unknown[] = [], opts?: object) =>
          track(tel, gauge, text, params, () => (target as PGlite).query(text, params, opts), countRows);
      }
      if (prop === "transaction") {
        return (fn: (tx: Transaction) => unknown) =>
          (target as PGlite).transaction((tx) => fn(instrumentPglite(tx, tel, gauge)) as Promise<unknown>);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
