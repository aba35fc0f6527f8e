// The container test (`bun run test:container`): builds the image from the Dockerfile and runs it
// for real with podman — against this machine's Postgres and Redis, and on the embedded default
// with a volume. Not a *.test.ts file: `bun run test` does not pick it up (CI runs it as its own
// step, after the unit tests). Needs podman, debootstrap, runc and uidmap (.ci/run installs them).
//
// Containers use --network=host: it reaches the host's Postgres and Redis on 127.0.0.1, and `-p`
// port publishing does not work on these machines. So each container gets PORT=<a free port>.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { resolve } from "node:path";
import postgres from "postgres";
import { flushPrefix } from "../../src/cache/flush";
import { freshDatabase, REDIS_URL } from "../support/env";
import { serverTiming } from "../support/harness";
import { freePort } from "../support/ports";
import { BUILD_FLAGS, ensureStandIn, podman, podmanOk, RUN_FLAGS } from "./podman";

const ROOT = resolve(import.meta.dir, "../..");
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const IMAGE = `localhost/hotpath-test:${RUN_ID}`;
const PREFIX = "hpt-container";
// NODE_ENV=production in the image: with DATABASE_URL the service wants a signing key for its
// bearer tokens (>= 32 bytes). Test-only value.
const JWT_SECRET = "container-test-only-secret-0123456789abcdef";
const say = (line: string) => console.log(`[container] ${line}`);

// Everything this run creates, removed in afterAll (and on Ctrl-C) whatever failed.
const created = { containers: new Set<string>(), volumes: new Set<string>(), image: false };
async function cleanup() {
  for (const c of created.containers) await podman(["rm", "--force", "--volumes", "--time", "0", c]);
  for (const v of created.volumes) await podman(["volume", "rm", "--force", v]);
  if (created.image) await podman(["rmi", "--force", IMAGE]);
  created.containers.clear();
  created.volumes.clear();
  created.image = false;
}
process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));

const logs = async (name: string) => {
  const r = await podman(["logs", name]);
  return r.stdout + r.stderr;
};
const inspect = async (name: string, format: string) => podmanOk(["inspect", name, "--format", format]);

/** Polls until `cond` holds; the deadline only turns a hang into a failure with context. */
async function until(what: string, cond: () => Promise<boolean>, context: () => Promise<string>, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await context()}`);
    await Bun.sleep(100);
  }
}

interface Running {
  name: string;
  url: string;
}

/** `podman run -d` the image (detached, host network, PORT set) and wait for "listening on". */
async function start(name: string, env: Record<string, string>, extra: string[] = []): Promise<Running> {
  const port = freePort();
  const envArgs = Object.entries({ ...env, PORT: String(port) }).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  created.containers.add(name);
  await podmanOk(["run", "-d", "--name", name, "--network=host", ...RUN_FLAGS, ...envArgs, ...extra, IMAGE]);
  await until(
    `${name} to listen`,
    async () => {
      if ((await logs(name)).includes("listening on")) return true;
      if ((await inspect(name, "{{.State.Running}}")) !== "true") throw new Error(`${name} exited:\n${await logs(name)}`);
      return false;
    },
    () => logs(name),
  );
  return { name, url: `http://127.0.0.1:${port}` };
}

/** `podman stop` (SIGTERM, default 10 s grace) and the exit code the container ended with. */
async function stop(name: string): Promise<{ stopCode: number; exitCode: number }> {
  const r = await podman(["stop", name]);
  return { stopCode: r.code, exitCode: Number(await inspect(name, "{{.State.ExitCode}}")) };
}

/** /proc/1 of a running container, read with the image's own bun (no coreutils assumed). */
async function pid1(name: string): Promise<{ uid: number; cmdline: string }> {
  const out = await podmanOk([
    "exec", name, "bun", "-e",
    'const fs=require("fs");console.log(JSON.stringify({status:fs.readFileSync("/proc/1/status","utf8"),cmd:fs.readFileSync("/proc/1/cmdline","utf8")}))',
  ]);
  const { status, cmd } = JSON.parse(out) as { status: string; cmd: string };
  return { uid: Number(status.match(/^Uid:\s+(\d+)/m)?.[1]), cmdline: cmd.split("\0").filter(Boolean).join(" ") };
}

/**
 * Writes may require a bearer token (the service prints one at startup on the embedded default
 * when auth is on). Use a printed token if there is one — the one on a line about writes first.
 */
function tokenFrom(log: string): Record<string, string> {
  // The embedded default prints an admin token under the curl hint (src/auth/startup.ts).
  const token = log.match(/^ {2}admin: +(eyJ[\w-]+\.[\w-]+\.[\w-]+)$/m)?.[1];
  if (!token) throw new Error(`no admin token in the startup output:\n${log}`);
  return { authorization: `Bearer ${token}` };
}

let redis: Redis;
beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  await redis.connect();
  await flushPrefix(redis, PREFIX);

  // CONTAINER_BASE_IMAGE: build on another base (e.g. the real oven/bun image where a registry is
  // reachable). Default: the locally built stand-in, built once and cached.
  const base = process.env.CONTAINER_BASE_IMAGE || (await ensureStandIn(say));
  const t0 = performance.now();
  created.image = true;
  const build = await podman(["build", "--layers=false", ...BUILD_FLAGS, "--build-arg", `BUN_IMAGE=${base}`, "-t", IMAGE, ROOT]);
  if (build.code !== 0) throw new Error(`image build failed (${build.code}):\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`);
  const size = Number(await podmanOk(["image", "inspect", IMAGE, "--format", "{{.Size}}"]));
  const baseSize = Number(await podmanOk(["image", "inspect", base, "--format", "{{.Size}}"]));
  say(
    `built ${IMAGE} on ${base} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      `${(size / 1e6).toFixed(0)} MB, of which ${((size - baseSize) / 1e6).toFixed(0)} MB on top of the base`,
  );
}, 900_000);

afterAll(async () => {
  await cleanup();
  await flushPrefix(redis, PREFIX).catch(() => {});
  redis?.disconnect();
}, 120_000);

test("the image: non-root numeric user, /data volume, EXPOSE, STOPSIGNAL, exec-form healthcheck and entrypoint", async () => {
  const [image] = JSON.parse(await podmanOk(["image", "inspect", IMAGE]));
  const config = image.Config; // podman reports the HEALTHCHECK beside Config, Docker inside it
  expect(config.User).toBe("1000:1000");
  expect(Object.keys(config.ExposedPorts ?? {})).toEqual(["3000/tcp"]);
  expect(config.StopSignal).toBe("SIGTERM");
  expect(Object.keys(config.Volumes ?? {})).toEqual(["/data"]);
  // "CMD" = exec form; a shell-form HEALTHCHECK would be "CMD-SHELL".
  expect((image.Healthcheck ?? config.Healthcheck)?.Test).toEqual(["CMD", "bun", "src/cli.ts", "healthcheck"]);
  expect(config.Entrypoint).toEqual(["bun", "src/cli.ts"]);
  expect(config.Cmd).toEqual(["serve"]);
  expect(config.Env).toContain("PGLITE_DIR=/data/pglite");
  expect(config.Env).toContain("NODE_ENV=production");
});

test("the image holds the app, its migrations and production dependencies only: no tests, bench or dev files", async () => {
  const out = await podmanOk([
    "run", "--rm", ...RUN_FLAGS, "--entrypoint", "bun", IMAGE, "-e",
    'const fs=require("fs");console.log(JSON.stringify({app:fs.readdirSync("."),mods:fs.readdirSync("node_modules").flatMap(d=>d.startsWith("@")?fs.readdirSync("node_modules/"+d).map(s=>d+"/"+s):[d]),journal:fs.existsSync("drizzle/meta/_journal.json")}))',
  ]);
  const { app, mods, journal } = JSON.parse(out) as { app: string[]; mods: string[]; journal: boolean };
  expect(app.sort()).toEqual(["drizzle", "node_modules", "package.json", "src"]);
  expect(journal).toBe(true);
  const pkg = (await Bun.file(resolve(ROOT, "package.json")).json()) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) expect(mods).toContain(dep);
  for (const dev of [...Object.keys(pkg.devDependencies), "bun-types", "typescript", "drizzle-kit"]) expect(mods).not.toContain(dev);
});

describe("against this machine's Postgres and Redis", () => {
  let db: { url: string };
  let sql: ReturnType<typeof postgres>;
  let api: Running;
  const ids: number[] = [];

  beforeAll(async () => {
    db = await freshDatabase("container");
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
  });

  test("`IMAGE migrate` applies the migrations once and exits 0", async () => {
    const r = await podman(["run", "--rm", "--network=host", ...RUN_FLAGS, "-e", `DATABASE_URL=${db.url}`, IMAGE, "migrate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("migrations applied (postgres)");
    const tables = await sql<{ t: string }[]>`select tablename as t from pg_tables where schemaname = 'public' order by 1`;
    expect(tables.map((t) => t.t)).toEqual(["documents", "feature_flags", "idempotency_keys", "users"]);
    const [applied] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(applied?.n).toBeGreaterThan(0);
  }, 120_000);

  test("serves with MIGRATE_ON_START=false: /readyz 200, no demo data in a real database", async () => {
    api = await start(`hp-api-${RUN_ID}`, {
      DATABASE_URL: db.url,
      JWT_SECRET,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      MIGRATE_ON_START: "false",
    });
    const log = await logs(api.name);
    expect(log).toContain('"database":"PostgreSQL"');
    expect(log).toContain('"cache":"redis"');
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: unknown }).checks).toEqual({ postgres: "ok", cache: "ok" });
    const [users] = await sql<{ n: number }[]>`select count(*)::int as n from users`;
    expect(users?.n).toBe(0);
    expect(log).not.toContain("seeded");
  }, 120_000);

  test("a data request carries Server-Timing db and cache entries; the second read is a cache hit", async () => {
    const rows = await sql<{ id: number }[]>`
      insert into users (email, name) values ('c1@example.com', 'C One'), ('c2@example.com', 'C Two') returning id`;
    ids.push(...rows.map((r) => r.id));
    const first = await fetch(`${api.url}/users/${ids[0]}`);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { name: string }).name).toBe("C One");
    const t1 = serverTiming(first);
    expect(t1.db?.desc).toBe("1 query");
    expect(t1.cache?.desc).toBe("miss");
    const second = await fetch(`${api.url}/users/${ids[0]}`);
    expect(second.status).toBe(200);
    const t2 = serverTiming(second);
    expect(t2.cache?.desc).toBe("hit");
    expect(t2.db?.desc).toBe("0 queries");
    expect((await redis.keys(`${PREFIX}:*`)).length).toBeGreaterThan(0);
  });

  test("PID 1 is bun itself (no shell, no init) and runs as a non-root uid", async () => {
    const p = await pid1(api.name);
    expect(p.cmdline).toBe("bun src/cli.ts serve");
    expect(p.uid).toBe(1000);
    expect(p.uid).not.toBe(0);
  });

  test("podman healthcheck run: healthy when ready", async () => {
    const r = await podman(["healthcheck", "run", api.name]);
    expect(r.code).toBe(0);
  });

  test("podman healthcheck run: unhealthy when a dependency is down (the check is readiness)", async () => {
    const sick = await start(`hp-sick-${RUN_ID}`, {
      DATABASE_URL: db.url,
      JWT_SECRET,
      REDIS_URL: "redis://127.0.0.1:1",
      REDIS_KEY_PREFIX: PREFIX,
      MIGRATE_ON_START: "false",
    });
    expect((await fetch(`${sick.url}/healthz`)).status).toBe(200);
    const r = await podman(["healthcheck", "run", sick.name]);
    expect(r.code).not.toBe(0);
    await podman(["rm", "--force", "--volumes", "--time", "0", sick.name]);
    created.containers.delete(sick.name);
  }, 120_000);

  test("podman stop during a slow in-flight request: the request finishes, then the container exits 0", async () => {
    const locker = await sql.reserve();
    let locked = false;
    try {
      // A real lock the next profile read must wait for: a request guaranteed to be in flight.
      await locker`begin`;
      await locker`lock table users in access exclusive mode`;
      locked = true;
      const inflight = fetch(`${api.url}/users/${ids[1]}`); // never read: not cached, goes to Postgres
      await until(
        "the request to wait on the lock",
        async () => {
          const [w] = await sql<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity
            where datname = current_database() and application_name = 'hotpath' and wait_event_type = 'Lock'`;
          return (w?.n ?? 0) > 0;
        },
        () => logs(api.name),
      );
      const stopping = stop(api.name);
      // The app logs the signal when shutdown begins (and /readyz turns 503 if it drains first).
      await until(
        "SIGTERM to reach the app",
        async () =>
          (await logs(api.name)).includes('"SIGTERM"') ||
          (await fetch(`${api.url}/readyz`).then((r) => r.status === 503, () => false)),
        () => logs(api.name),
      );
      await locker`commit`;
      locked = false;
      const res = await inflight;
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: number }).id).toBe(ids[1]!);
      const { stopCode, exitCode } = await stopping;
      expect(stopCode).toBe(0);
      expect(exitCode).toBe(0); // 137 would mean podman had to SIGKILL it after the grace period
      expect(await logs(api.name)).toContain('"bye"');
    } finally {
      if (locked) await locker`rollback`.catch(() => {});
      locker.release();
    }
  }, 120_000);
});

test("embedded default with a volume: demo data, a written user survives a new container; SIGINT exits 0", async () => {
  const volume = `hotpath-test-data-${RUN_ID}`;
  created.volumes.add(volume);
  await podmanOk(["volume", "create", volume]);

  const first = await start(`hp-emb1-${RUN_ID}`, {}, ["-v", `${volume}:/data`]);
  const log1 = await logs(first.name);
  expect(log1).toContain("PGlite (embedded, /data/pglite)");
  expect(log1).toContain("in-process LRU");
  expect(log1).toContain("seeded a demo data set");
  expect((await fetch(`${first.url}/users/1`)).status).toBe(200);
  const email = `vol-${RUN_ID}@example.com`;
  const created201 = await fetch(`${first.url}/users`, {
    method: "POST",
    headers: { "content-type": "application/json", ...tokenFrom(log1) },
    body: JSON.stringify({ email, name: "Volume" }),
  });
  expect(created201.status).toBe(201);
  const { id } = (await created201.json()) as { id: number };
  const s1 = await stop(first.name);
  expect(s1.exitCode).toBe(0);
  await podmanOk(["rm", "--volumes", first.name]);
  created.containers.delete(first.name);

  // A new container (not a restart of the same one): the data can only come from the volume.
  const second = await start(`hp-emb2-${RUN_ID}`, {}, ["-v", `${volume}:/data`]);
  expect(await logs(second.name)).not.toContain("seeded");
  const back = await fetch(`${second.url}/users/${id}`);
  expect(back.status).toBe(200);
  expect(((await back.json()) as { name: string }).name).toBe("Volume");
  // The generated signing secret lives on the volume too: a token printed by the first container
  // still works on the second.
  const renamed = await fetch(`${second.url}/users/${id}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", ...tokenFrom(log1) },
    body: JSON.stringify({ name: "Volume 2" }),
  });
  expect(renamed.status).toBe(200);
  // SIGINT (Ctrl-C on `docker run -it`) is PID 1's to handle too: a clean exit 0.
  await podmanOk(["kill", "--signal", "SIGINT", second.name]);
  expect(Number(await podmanOk(["wait", second.name]))).toBe(0);
  expect(await logs(second.name)).toContain('"SIGINT"');
}, 180_000);
