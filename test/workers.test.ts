import { afterAll, expect, test } from "bun:test";
import { parseEnv } from "../src/env";
import { tokenFor } from "./support/auth";
import { freshDatabase, REDIS_URL, freshPrefix } from "./support/env";
import { startService } from "./support/spawn";

// Real processes over the real Postgres and Redis: WORKERS=2 behind one port, and two separate
// instances sharing the data stores.

const { url: DB_URL } = await freshDatabase("workers");
const ADMIN = { "content-type": "application/json", authorization: `Bearer ${await tokenFor("admin")}` };
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => {});
});

const base = async (prefix: string) => ({
  DATABASE_URL: DB_URL,
  REDIS_URL,
  REDIS_KEY_PREFIX: await freshPrefix(prefix),
  LOG_LEVEL: "info",
  METRICS_PUBLIC: "true",
  SHUTDOWN_DRAIN_S: "0",
});

/** A new connection per request: keep-alive would pin every request to one worker. */
const fresh = (url: string, init: RequestInit = {}) =>
  fetch(url, { ...init, keepalive: false, headers: { connection: "close", ...(init.headers as Record<string, string>) } });

/** The summed value of a metric's samples whose labels contain `match`. */
function sample(text: string, name: string, match = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !line.includes(match)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    total += Number(line.split(" ").at(-1));
  }
  return total;
}

test("WORKERS needs a shared database and cache", () => {
  expect(() => parseEnv({ WORKERS: "2", DATABASE_URL: "postgres://u@db/app" })).toThrow(/WORKERS: more than one worker needs/);
  expect(() => parseEnv({ WORKERS: "2", REDIS_URL: "redis://r" })).toThrow(/WORKERS/);
  expect(() => parseEnv({ WORKERS: "0" })).toThrow(/WORKERS/);
  expect(parseEnv({ WORKERS: "auto", DATABASE_URL: "postgres://u@db/app", REDIS_URL: "redis://r" }).WORKERS).toBe("auto");
  expect(parseEnv({}).WORKERS).toBe(1);
});

test("WORKERS=2: both processes serve one port, /metrics sums both, SIGTERM drains both and exits 0", async () => {
  const svc = await startService({ ...(await base("hpt-workers-2")), WORKERS: "2" });
  stops.push(() => svc.stop("SIGKILL"));
  while ((svc.output().match(/hotpath listening on/g) ?? []).length < 2 && svc.proc.exitCode === null) await Bun.sleep(20);

  const pids = new Set<number>();
  let healthz = 0;
  // New connections are spread by the kernel; stop once both answered (bounded by the test timeout).
  while (pids.size < 2) {
    const body = (await (await fresh(`${svc.url}/healthz`)).json()) as { status: string; worker: string; pid: number };
    expect(body.status).toBe("ok");
    expect(["1", "2"]).toContain(body.worker);
    pids.add(body.pid);
    healthz++;
  }
  expect(pids.has(svc.proc.pid)).toBe(false); // the supervisor serves nothing itself

  // Whichever worker a scrape lands on, it reports the sum over both.
  for (let i = 0; i < 4; i++) {
    const text = await (await fresh(`${svc.url}/metrics`)).text();
    expect(sample(text, "hotpath_worker_processes")).toBe(2);
    expect(sample(text, "http_server_request_duration_seconds_count", 'route="/healthz"')).toBe(healthz);
    expect(sample(text, "db_pool_max")).toBe(4); // DB_POOL_MAX=2 in each of the two
  }

  expect(await svc.stop("SIGTERM")).toBe(0);
  const out = svc.output();
  expect(out.match(/"msg":"bye"/g)?.length).toBe(2);
  const json = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  expect(json).toContainEqual(expect.objectContaining({ msg: "supervisor: every worker exited", code: 0 }));
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // no worker left behind
});

/** Pids of the workers that answered /healthz until `n` distinct ones did. */
async function workerPids(url: string, n: number): Promise<Set<number>> {
  const pids = new Set<number>();
  while (pids.size < n) pids.add(((await (await fresh(`${url}/healthz`)).json()) as { pid: number }).pid);
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a worker that dies is started again; workers whose supervisor is killed drain and exit", async () => {
  const svc = await startService({ ...(await base("hpt-workers-3")), WORKERS: "2" });
  stops.push(() => svc.stop("SIGKILL"));
  const listening = () => (svc.output().match(/hotpath listening on/g) ?? []).length;
  while (listening() < 2 && svc.proc.exitCode === null) await Bun.sleep(20);
  const [victim, survivor] = [...(await workerPids(svc.url, 2))];
  process.kill(victim!, "SIGKILL");
  expect(await svc.waitFor('"msg":"worker exited; starting it again"')).toBe(true);
  while (listening() < 3 && svc.proc.exitCode === null) await Bun.sleep(20);
  const now = await workerPids(svc.url, 2);
  expect(now.has(survivor!)).toBe(true);
  expect(now.has(victim!)).toBe(false);

  // The supervisor is gone without forwarding anything: each worker notices and drains by itself.
  svc.proc.kill("SIGKILL");
  await svc.proc.exited;
  for (const pid of now) while (alive(pid)) await Bun.sleep(20);
  // Both drained the normal way (their last lines reach the pipe a moment after they exit).
  while ((svc.output().match(/"msg":"bye"/g) ?? []).length < 2) await Bun.sleep(20);
  expect(svc.output().match(/"msg":"bye"/g)?.length).toBe(2);
});

test("two instances over one Postgres and Redis: a write through one is never stale through the other", async () => {
  const ab = await base("hpt-workers-ab");
  const a = await startService(ab);
  stops.push(() => a.stop("SIGKILL"));
  const b = await startService(ab);
  stops.push(() => b.stop("SIGKILL"));
  const created = await fetch(`${a.url}/users`, { method: "POST", headers: ADMIN, body: JSON.stringify({ email: "ab@example.com", name: "v0" }) });
  expect(created.status).toBe(201);
  const id = ((await created.json()) as { id: number }).id;
  const nameOnB = async () => ((await (await fetch(`${b.url}/users/${id}`)).json()) as { name: string }).name;
  const titlesOnB = async () =>
    ((await (await fetch(`${b.url}/users/${id}/documents`)).json()) as { items: { title: string }[] }).items.map((d) => d.title);

  for (let i = 1; i <= 10; i++) {
    // B has the previous value cached (a hit), then A writes: B's next read is the new value.
    expect(await nameOnB()).toBe(`v${i - 1}`);
    const res = await fetch(`${a.url}/users/${id}`, { method: "PATCH", headers: ADMIN, body: JSON.stringify({ name: `v${i}` }) });
    expect(res.status).toBe(200);
    expect(await nameOnB()).toBe(`v${i}`);
    const doc = await fetch(`${a.url}/documents`, { method: "POST", headers: ADMIN, body: JSON.stringify({ userId: id, title: `d${i}` }) });
    expect(doc.status).toBe(201);
    expect((await titlesOnB())[0]).toBe(`d${i}`);
  }
  expect(await a.stop()).toBe(0);
  expect(await b.stop()).toBe(0);
});
