import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { FromWorker, ToWorker } from "./protocol";

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** How long a scrape waits for the supervisor's answer before serving this worker's own metrics. */
const GATHER_WAIT_MS = 2000;

/**
 * A worker's side of the supervisor link (supervisor.ts). A scrape of /metrics lands on whichever
 * worker the kernel picked, so that worker asks the supervisor for every worker's registry and
 * answers with their sum (prom-client's AggregatorRegistry.aggregate, the cluster-module
 * aggregation): counters and histograms add up across workers, and `hotpath_worker_processes`
 * tells how many answered. Undefined when this process is not a worker (`id`: env.HOTPATH_WORKER).
 */
export function workerLink(id: string | undefined) {
  const send = process.send?.bind(process);
  if (id === undefined || !send) return undefined;
  let provider: (() => Promise<MetricsJson>) | undefined;
  const waiting = new Map<number, (list: MetricsJson[]) => void>();
  let seq = 0;
  const workerGauge = {
    name: "hotpath_worker_processes",
    help: "Worker processes whose metrics this answer sums.",
    type: "gauge",
    aggregator: "sum",
    values: [{ labels: {}, value: 1 }],
  } as unknown as MetricsJson[number];
  const mine = async (): Promise<MetricsJson> => [
    ...((await provider?.()) ?? []),
    workerGauge,
  ];
  process.on("message", async (msg: ToWorker) => {
    if (msg.t === "collect") send({ t: "metrics", id: msg.id, json: await mine() } satisfies FromWorker);
    else if (msg.t === "gathered") waiting.get(msg.id)?.(msg.list as MetricsJson[]);
  });
  // The supervisor is gone (killed): drain and exit like on SIGTERM rather than run orphaned.
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
  return {
    id,
    /** The registry to answer gatherings with (the app's, once built). */
    provide(fn: () => Promise<MetricsJson>): void {
      provider = fn;
    },
    /** Every worker's metrics summed, in the Prometheus text format. */
    async metrics(): Promise<string> {
      const n = ++seq;
      const list = await new Promise<MetricsJson[]>((resolve) => {
        const timer = setTimeout(async () => resolve([await mine()]), GATHER_WAIT_MS);
        waiting.set(n, (l) => (clearTimeout(timer), resolve(l)));
        send({ t: "gather", id: n } satisfies FromWorker);
      }).finally(() => waiting.delete(n));
      return AggregatorRegistry.aggregate(list).metrics();
    },
  };
}

export type WorkerLink = NonNullable<ReturnType<typeof workerLink>>;
