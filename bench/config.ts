import { parseArgs } from "node:util";

// Every knob of a run in one place. Two profiles: the full run (the numbers in the README) and
// --quick (small data, short windows: a smoke run for CI and the test, never for conclusions).

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

export const dbUrl = (name: string) => {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

export interface Profile {
  name: "full" | "quick";
  users: number;
  documents: number;
  /** Indexed database (the service, the limit servers) and its copy without the composite indexes. */
  db: string;
  naiveDb: string;
  redisPrefix: string;
  connections: number;
  /** Measured windows per cell (the repeats: median and spread are over these) and their length. */
  windows: number;
  windowS: number;
  /** Warm-up: slices of this length until two in a row agree within warmTolerance, at most warmMax.
   *  Durations are whole seconds. */
  warmSliceS: number;
  warmMin: number;
  warmMax: number;
  warmTolerance: number;
  /** The naive server answers in hundreds of ms to seconds: its windows stretch to ~4 × its latency,
   *  within [beforeWindowS, maxSlowWindowS], so its p99 rests on more than one wave of requests.
   *  The naive server's 1–5 requests/s at 1 M rows are why connections is 8 for every server:
   *  at 16 a naive GET /stats waits ~14 s and no window of a bounded run would see it answered. */
  beforeWindowS: number;
  maxSlowWindowS: number;
  /** Measured windows of the naive server (fewer: each is up to maxSlowWindowS long). */
  beforeWindows: number;
  poolSizes: number[];
  sweepWindows: number;
  /** "Next page" = this page of `pageSize` rows (page 1 = first page); see bench/README in the report. */
  nextPage: number;
  pageSize: number;
  explainRepeats: number;
  /** Writes whose propagation to the other instance's L1 is timed (the l1 phase). */
  invalidationProbes: number;
  results: string;
}

const full: Profile = {
  name: "full",
  users: 10_000,
  documents: 1_000_000,
  db: "hotpath_bench",
  naiveDb: "hotpath_bench_naive",
  redisPrefix: "hpbench",
  connections: 8,
  windows: 3,
  windowS: 3,
  warmSliceS: 1,
  warmMin: 2,
  warmMax: 6,
  warmTolerance: 0.1,
  beforeWindowS: 4,
  maxSlowWindowS: 10,
  beforeWindows: 2,
  poolSizes: [1, 2, 4, 10],
  sweepWindows: 2,
  nextPage: 5,
  pageSize: 20,
  explainRepeats: 5,
  invalidationProbes: 200,
  results: "latest",
};

const quick: Profile = {
  ...full,
  name: "quick",
  users: 1_000,
  documents: 50_000,
  db: "hotpath_bench_quick",
  naiveDb: "hotpath_bench_quick_naive",
  redisPrefix: "hpbenchq",
  windows: 1,
  windowS: 1,
  warmSliceS: 1,
  warmMin: 0,
  warmMax: 0, // a smoke run: no warm-up
  beforeWindowS: 2,
  maxSlowWindowS: 2,
  beforeWindows: 1,
  poolSizes: [1, 4],
  sweepWindows: 1,
  explainRepeats: 2,
  invalidationProbes: 20,
  results: "quick",
};

export const SCENARIOS = ["before", "after", "limits", "instrumentation", "tracing", "auth", "pool", "workers", "replica", "compression", "l1"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
  profile: Profile;
  only: Set<Scenario>;
  rounds: number;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      rounds: { type: "string", default: "1" },
      connections: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(`bun run bench [--quick] [--only ${SCENARIOS.join(",")}] [--rounds N] [--connections N]`);
    process.exit(0);
  }
  const profile = { ...(values.quick ? quick : full) };
  if (values.connections) profile.connections = Number(values.connections);
  const only = new Set<Scenario>();
  for (const s of (values.only ?? SCENARIOS.join(",")).split(",").map((x) => x.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario "${s}" (${SCENARIOS.join(", ")})`);
    only.add(s as Scenario);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error("--rounds must be an integer 1..10");
  // A partial run must not overwrite the full run's committed results.
  if (only.size < SCENARIOS.length && profile.name === "full") profile.results = "partial";
  return { profile, only, rounds };
}
