import { expect, test } from "bun:test";
import { join } from "node:path";
import { parseEnv, type Env } from "../src/env";

test("defaults with no env at all", () => {
  const env = parseEnv({});
  expect(env.PORT).toBe(3000);
  expect(env.DATABASE_URL).toBeUndefined();
  expect(env.REDIS_URL).toBeUndefined();
  expect(env.CACHE_TTL_USER_S).toBe(300);
  expect(env.CACHE_TTL_USER_STATS_S).toBe(60);
  expect(env.CACHE_TTL_GLOBAL_STATS_S).toBe(30);
  expect(env.DB_PREPARE).toBe(true);
});

test("every bad variable is named", () => {
  expect(() => parseEnv({ PORT: "abc", DB_POOL_MAX: "0", REDIS_URL: "not a url" })).toThrow(/PORT[\s\S]*DB_POOL_MAX[\s\S]*REDIS_URL/);
});

test("the service exits 1 naming the variable", async () => {
  const proc = Bun.spawn(["bun", "run", "src/index.ts"], {
    env: { ...process.env, CACHE_TTL_USER_S: "-5", DATABASE_URL: "", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(1);
  expect(await new Response(proc.stderr).text()).toContain("CACHE_TTL_USER_S");
});

test("demo data defaults on for the embedded default only; explicit values win", () => {
  expect(parseEnv({}).DB_SEED_DEMO).toBe(true);
  expect(parseEnv({ DATABASE_URL: "postgres://u@db:5432/app" }).DB_SEED_DEMO).toBe(false);
  expect(parseEnv({ DATABASE_URL: "postgres://u@db:5432/app", DB_SEED_DEMO: "true" }).DB_SEED_DEMO).toBe(true);
  expect(parseEnv({ DB_SEED_DEMO: "false" }).DB_SEED_DEMO).toBe(false);
});

test("migrations at start: on by default, MIGRATE_ON_START=false turns them off", () => {
  expect(parseEnv({}).MIGRATE_ON_START).toBe(true);
  expect(parseEnv({ MIGRATE_ON_START: "false" }).MIGRATE_ON_START).toBe(false);
  expect(() => parseEnv({ MIGRATE_ON_START: "maybe" })).toThrow(/MIGRATE_ON_START/);
});

// Every yes/no variable, whether the code reads it as a boolean or as "on" | "off".
const switches: [string, (on: boolean) => boolean | "on" | "off"][] = [
  ["DB_PREPARE", (on) => on],
  ["DB_SEED_DEMO", (on) => on],
  ["MIGRATE_ON_START", (on) => on],
  ["METRICS_PUBLIC", (on) => on],
  ["CACHE_L1", (on) => (on ? "on" : "off")],
  ["INSTRUMENTATION", (on) => (on ? "on" : "off")],
  ["AUTH", (on) => (on ? "on" : "off")],
];

test("every yes/no variable accepts the same spellings, in any case", () => {
  const spellings: [string, boolean][] = [
    ["true", true], ["1", true], ["yes", true], ["on", true], ["TRUE", true], [" On ", true],
    ["false", false], ["0", false], ["no", false], ["off", false], ["OFF", false], ["No", false],
  ];
  for (const [name, expected] of switches) {
    for (const [value, on] of spellings) {
      expect({ name, value, parsed: parseEnv({ [name]: value })[name as keyof Env] }).toEqual({ name, value, parsed: expected(on) });
    }
    expect(() => parseEnv({ [name]: "maybe" })).toThrow(new RegExp(`${name}:`));
  }
});

test("METRICS_TOKEN and DEBUG_TOKEN: at least 16 characters, a shorter one is refused by name", () => {
  for (const name of ["METRICS_TOKEN", "DEBUG_TOKEN"] as const) {
    expect(parseEnv({ [name]: "x".repeat(16) })[name]).toBe("x".repeat(16));
    expect(() => parseEnv({ [name]: "x".repeat(15) })).toThrow(new RegExp(`${name}: must be at least 16 characters`));
  }
});

test("TRUSTED_PROXIES: unset or empty trusts nobody; IPs and CIDR ranges; a bad entry is refused by name, and stops the service", async () => {
  expect(parseEnv({}).TRUSTED_PROXIES).toEqual([]);
  expect(parseEnv({ TRUSTED_PROXIES: " , " }).TRUSTED_PROXIES).toEqual([]);
  expect(parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8, 127.0.0.1,fd00::/8, ::1" }).TRUSTED_PROXIES).toEqual(["10.0.0.0/8", "127.0.0.1", "fd00::/8", "::1"]);
  expect(() => parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8,proxy.internal" })).toThrow(/TRUSTED_PROXIES: "proxy.internal" is not an IP address or CIDR range/);
  expect(() => parseEnv({ TRUSTED_PROXIES: "10.0.0.0/33" })).toThrow(/TRUSTED_PROXIES: "10.0.0.0\/33": the prefix length must be 0 to 32/);
  expect(() => parseEnv({ TRUSTED_PROXIES: "fd00::/129" })).toThrow(/TRUSTED_PROXIES: .*0 to 128/);
  const proc = Bun.spawn(["bun", "run", "src/index.ts"], {
    env: { ...process.env, TRUSTED_PROXIES: "10.0.0.0/8,10.1", DATABASE_URL: "", REDIS_URL: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(1);
  expect(await new Response(proc.stderr).text()).toContain('TRUSTED_PROXIES: "10.1" is not an IP address');
});

test("the command-line tools' variables are parsed here too", () => {
  expect(parseEnv({}).EXPLAIN_LARGE_ROWS).toBe(10_000);
  expect(parseEnv({ EXPLAIN_LARGE_ROWS: "500" }).EXPLAIN_LARGE_ROWS).toBe(500);
  expect(() => parseEnv({ EXPLAIN_LARGE_ROWS: "-1" })).toThrow(/EXPLAIN_LARGE_ROWS/);
  expect(parseEnv({}).HOTPATH_URL).toBe("http://127.0.0.1:3000");
  expect(() => parseEnv({ HOTPATH_URL: "localhost" })).toThrow(/HOTPATH_URL/);
});

test("no module in src/ but env.ts reads process.env", async () => {
  const readers: string[] = [];
  for await (const file of new Bun.Glob("src/**/*.ts").scan({ cwd: join(import.meta.dir, "..") })) {
    if (file === "src/env.ts") continue;
    const text = await Bun.file(join(import.meta.dir, "..", file)).text();
    if (/process\.env|Bun\.env|import\.meta\.env/.test(text)) readers.push(file);
  }
  expect(readers).toEqual([]);
});
