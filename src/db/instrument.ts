import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Sql, TransactionSql } from "postgres";
import { currentStats, type Cancellable, type RequestStats } from "../context/request";
import type { Telemetry } from "../context/telemetry";
import { requestTimedOut, type PoolQueue } from "./pool-queue";

// drizzle's Logger has no duration hook, so queries are timed here, at the driver, for both
// postgres.js and PGlite. Without telemetry (INSTRUMENTATION=off) nothing is timed or counted:
// what is left is the queue and the request's list of running statements, which the request
// timeout needs to cancel them. Transactions hand drizzle a separate client object (begin/savepoint,
// PGlite's transaction): those are wrapped too so statements inside a transaction are counted.
// Each statement takes a slot of the pool queue (pool-queue.ts) before it reaches the driver; a
// transaction takes one slot for its whole length and the statements inside it take none (they
// run on the transaction's connection).

/** Where a statement gets its connection: the queue, and the point lane's own pool. */
export interface Lane {
  pool: PoolQueue;
  /** Texts of the point statements (hot-queries.ts, idempotency.ts): they run in the point lane. */
  point: ReadonlySet<string>;
  /** The point lane's connections (postgres.js; absent for PGlite or DB_POOL_RESERVED=0). */
  pointSql?: Sql;
}

/** Whether this statement runs in the point lane. */
const inPointLane = (lane: Lane | undefined, text: string) => lane !== undefined && lane.pool.lane(lane.point.has(text));

/** Starts the statement and lists it in the request's scope, so a timeout can cancel it. */
function launch<T>(run: () => PromiseLike<T>, stats: RequestStats | undefined): PromiseLike<T> {
  let q: PromiseLike<T>;
  try {
    q = run();
  } catch (err) {
    return Promise.reject(err);
  }
  if (stats && typeof (q as Partial<Cancellable>).cancel === "function") (stats.running ??= []).push(q as unknown as Cancellable);
  return q;
}

/** A launched statement settled: its slot goes back, and it leaves the request's running list. */
function settled(lane: Lane | undefined, point: boolean, stats: RequestStats | undefined, q: PromiseLike<unknown> | undefined): void {
  if (q === undefined) return;
  if (lane !== undefined) lane.pool.release(point);
  if (stats?.running) {
    const i = stats.running.indexOf(q as unknown as Cancellable);
    if (i >= 0) stats.running.splice(i, 1);
  }
}

/** INSTRUMENTATION=off: admission and cancellation only; no clock, no stats, no event. */
function queued<T>(lane: Lane | undefined, point: boolean, run: () => PromiseLike<T>): Promise<T> {
  const stats = currentStats();
  if (stats?.timedOut) return Promise.reject(requestTimedOut());
  let q: PromiseLike<T> | undefined;
  const done = () => settled(lane, point, stats, q);
  const running =
    lane === undefined || lane.pool.tryAcquire(point)
      ? Promise.resolve((q = launch(run, stats)))
      : lane.pool.acquire(point, stats).then(() => (q = launch(run, stats)));
  return running.then(
    (r) => {
      done();
      return r;
    },
    (err: unknown) => {
      done();
      throw err;
    },
  );
}

function track<T>(
  tel: Telemetry | undefined,
  lane: Lane | undefined,
  point: boolean,
  text: string,
  params: readonly unknown[],
  run: () => PromiseLike<T>,
  rowsOf: (r: T) => number,
): Promise<T> {
  if (!tel) return queued(lane, point, run);
  const stats = currentStats();
  // A request that timed out runs nothing more (its handler may still be going).
  if (stats?.timedOut) return Promise.reject(requestTimedOut());
  const start = performance.now();
  // When the statement got its slot: until then it waited in the queue (pool), after it ran (db).
  let admitted = start;
  let q: PromiseLike<T> | undefined;
  const done = (rows: number, error?: string) => {
    settled(lane, point, stats, q);
    const durMs = performance.now() - admitted;
    const poolMs = admitted - start;
    if (stats) {
      stats.dbMs += durMs;
      stats.poolMs += poolMs;
      stats.queries++;
      if (stats.captureStatements) stats.statements.push({ sql: text, params, durMs, poolMs, rows, error });
    }
    if (tel.query.active) tel.query.emit({ sql: text, params, durMs, poolMs, rows, error, stats });
  };
  // A free slot (the common case) costs a comparison and the one promise this always cost; only
  // a statement that must wait allocates its place in the queue.
  const running =
    lane === undefined || lane.pool.tryAcquire(point)
      ? Promise.resolve((q = launch(run, stats)))
      : lane.pool.acquire(point, stats).then(() => {
          admitted = performance.now();
          return (q = launch(run, stats));
        });
  return running.then(
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

/** A transaction holds one general slot from BEGIN to COMMIT/ROLLBACK (and a connection of its own). */
async function holding<T>(lane: Lane | undefined, timed: boolean, run: () => Promise<T>): Promise<T> {
  if (!lane) return run();
  const stats = currentStats();
  const start = timed ? performance.now() : 0;
  await lane.pool.acquire(false, stats);
  if (stats && timed) stats.poolMs += performance.now() - start;
  try {
    return await run();
  } finally {
    lane.pool.release(false);
  }
}

/** A stand-in for postgres.js' sql object exposing exactly what drizzle calls. */
export function instrumentPostgres(sql: AnySql, tel: Telemetry | undefined, lane: Lane | undefined): Sql {
  const unsafe = (text: string, params: unknown[] = [], opts?: { prepare?: boolean }) => {
    let values = false;
    // postgres.js sends a query when it is awaited; .values() must be applied before that.
    const pending = {
      values() {
        values = true;
        return pending;
      },
      then<A, B>(ok?: (v: any) => A, fail?: (e: unknown) => B) {
        const point = inPointLane(lane, text);
        return track(tel, lane, point, text, params, () => {
          const q = (point && lane!.pointSql ? lane!.pointSql : sql).unsafe(text, params as never[], opts);
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
      return holding(lane, tel !== undefined, () => (sql as Sql).begin(...(args as [string]), (tx) => fn(instrumentPostgres(tx, tel, undefined))));
    },
    savepoint: (...args: unknown[]) => {
      const fn = args.pop() as (tx: unknown) => unknown;
      return (sql as TransactionSql).savepoint(...(args as [string]), (tx) => fn(instrumentPostgres(tx, tel, undefined)));
    },
    end: (opts?: { timeout?: number }) => (sql as Sql).end(opts),
  };
  return wrapped as unknown as Sql;
}

type PgliteLike = Pick<PGlite, "query" | "transaction">;

/** PGlite is a class instance; a Proxy keeps every other method working untouched. */
export function instrumentPglite<T extends PgliteLike | Transaction>(pg: T, tel: Telemetry | undefined, lane: Lane | undefined): T {
  return new Proxy(pg, {
    get(target, prop, receiver) {
      if (prop === "query") {
        return (text: string, params: unknown[] = [], opts?: object) =>
          track(tel, lane, inPointLane(lane, text), text, params, () => (target as PGlite).query(text, params, opts), countRows);
      }
      if (prop === "transaction") {
        return (fn: (tx: Transaction) => unknown) =>
          holding(lane, tel !== undefined, () => (target as PGlite).transaction((tx) => fn(instrumentPglite(tx, tel, undefined)) as Promise<unknown>));
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
