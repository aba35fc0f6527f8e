// Messages between the supervisor (supervisor.ts) and its workers (link.ts) over Bun's IPC channel.

/** Set in each worker's environment: its number, 1..N. */
export const WORKER_ENV = "HOTPATH_WORKER";

export type FromWorker =
  /** A worker was scraped: it asks for every worker's metrics. */
  | { t: "gather"; id: number }
  /** A worker's registry (prom-client getMetricsAsJSON()), answering "collect". */
  | { t: "metrics"; id: string; json: unknown };

export type ToWorker =
  | { t: "collect"; id: string }
  | { t: "gathered"; id: number; list: unknown[] };
