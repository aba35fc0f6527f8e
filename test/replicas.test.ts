import { afterAll, beforeAll, expect, test } from "bun:test";
import { entryJson } from "../src/cache/cache-aside";
import Redis from "ioredis";
import { createApp } from "../src/app";
import { flushPrefix } from "../src/cache/flush";
import { LSN_HEADER, parseLsn } from "../src/db/replicas";
import { parseEnv } from "../src/env";
import { createServices, type Services } from "../src/services";
import { REDIS_URL, testEnv } from "./support/env";
import { expectError, requester } from "./support/http";
import { startPgPair, type PgPair } from "./support/pg-replica";

// One real primary + streaming replica for the whole file (test/support/pg-replica.ts); the
// service reads through the replica, and replay is paused to make its lag visible.

const PREFIX = "hpt-replicas";
let pair: PgPair;
let services: Services;
let request: ReturnType<typeof requester>;
let redis: Redis;
let userId: number;

beforeAll(async () => {
  pair = await startPgPair();
  try {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    await flushPrefix(redis, PREFIX);
    services = await createServices(
      testEnv({ DATABASE_URL: pair.primaryUrl, DATABASE_REPLICA_URLS: pair.replicaUrl, REDIS_URL, REDIS_KEY_PREFIX: PREFIX, DB_REPLICA_CHECK_MS: "50" }),
    );
    request = requester(createApp(services));
    const res = await request("/users", { method: "POST", as: "admin", json: { email: "r@example.com", name: "before" } });
    expect(res.status).toBe(201);
    userId = (await res.json()).id;
    await pair.caughtUp();
  } catch (err) {
    await pair.stop();
    throw err;
  }
}, 60_000);

afterAll(async () => {
  await services?.close();
  if (redis) {
    await flushPrefix(redis, PREFIX);
    redis.disconnect();
  }
  await pair?.stop();
});

/** Waits until the service's own poll has seen the replica replay everything the primary has. */
async function replicaCaughtUpForService() {
  await pair.caughtUp();
  const [row] = await pair.primary<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  const target = parseLsn(row!.lsn)!;
  while (services.reads.replicas[0]!.replayed < target) await Bun.sleep(10);
}

const titles = async (res: Response) => ((await res.json()) as { items: { title: string }[] }).items.map((d) => d.title);

test("parseLsn orders WAL positions; a malformed Hotpath-LSN is a 400", async () => {
  expect(parseLsn("0/16B3748")).toBe(0x16b3748n);
  expect(parseLsn("1/0")! > parseLsn("0/FFFFFFFF")!).toBe(true);
  expect(parseLsn("16B3748")).toBeUndefined();
  await expectError(await request(`/users/${userId}/documents`, { headers: { [LSN_HEADER]: "yesterday" } }), 400, "bad_request");
});

test("DATABASE_REPLICA_URLS: postgres URLs only, and only with DATABASE_URL", () => {
  const primary = "postgres://u@db:5432/app";
  expect(parseEnv({ DATABASE_URL: primary, DATABASE_REPLICA_URLS: "postgres://u@r1/app, postgres://u@r2/app" }).DATABASE_REPLICA_URLS).toEqual([
    "postgres://u@r1/app",
    "postgres://u@r2/app",
  ]);
  expect(() => parseEnv({ DATABASE_URL: primary, DATABASE_REPLICA_URLS: "http://r1/app" })).toThrow(/DATABASE_REPLICA_URLS/);
  expect(() => parseEnv({ DATABASE_REPLICA_URLS: "postgres://u@r1/app" })).toThrow(/DATABASE_REPLICA_URLS: needs DATABASE_URL/);
});

test("/readyz reports the replica", async () => {
  const res = await request("/readyz");
  expect(res.status).toBe(200);
  expect((await res.json()).checks).toEqual({ postgres: "ok", cache: "ok", [`replica ${new URL(pair.replicaUrl).host}`]: "ok" });
});

test("replay paused: list reads come from the replica, but the writer (Hotpath-LSN) reads its own write", async () => {
  await replicaCaughtUpForService();
  await pair.pauseReplay();
  try {
    const res = await request("/documents", { method: "POST", as: userId, json: { title: "after-pause" } });
    expect(res.status).toBe(201);
    const lsn = res.headers.get(LSN_HEADER);
    expect(parseLsn(lsn)).toBeDefined();
    // Without the header: the lagging replica answers (the write is not there yet) — the
    // routing is real, and the lag is what an anonymous reader may see.
    expect(await titles(await request(`/users/${userId}/documents`))).not.toContain("after-pause");
    // With it: the replica has not replayed that far, so the primary answers.
    expect(await titles(await request(`/users/${userId}/documents`, { headers: { [LSN_HEADER]: lsn! } }))).toContain("after-pause");

    const patch = await request(`/users/${userId}`, { method: "PATCH", as: userId, json: { email: "new@example.com" } });
    expect(patch.status).toBe(200);
    const me = await request("/users/me", { as: userId, headers: { [LSN_HEADER]: patch.headers.get(LSN_HEADER)! } });
    expect((await me.json()).email).toBe("new@example.com");
  } finally {
    await pair.resumeReplay();
  }
  // Once replayed, the header no longer pins the primary: the replica has it.
  await replicaCaughtUpForService();
  expect(await titles(await request(`/users/${userId}/documents`))).toContain("after-pause");
});

test("replay paused: a cache fill after a write never stores what the replica still shows", async () => {
  await replicaCaughtUpForService();
  expect((await (await request(`/users/${userId}`)).json()).name).toBe("before");
  expect((await (await request(`/users/${userId}/stats`)).json()).documents.total).toBe(1);
  await pair.pauseReplay();
  try {
    expect((await request(`/users/${userId}`, { method: "PATCH", as: userId, json: { name: "after" } })).status).toBe(200);
    expect((await request("/documents", { method: "POST", as: userId, json: { title: "second" } })).status).toBe(201);
    // The replica really is behind on both rows.
    const [onReplica] = await pair.replica<{ name: string; n: number }[]>`
      select name, (select count(*)::int from documents where user_id = ${userId}) as n from users where id = ${userId}`;
    expect(onReplica).toEqual({ name: "before", n: 1 });
    // An anonymous reader (no Hotpath-LSN) misses the evicted entries: the fills read the primary
    // (the profile always; the stats because the replica has not replayed the primary's position).
    const profile = await request(`/users/${userId}`);
    expect((await profile.json()).name).toBe("after");
    expect((await (await request(`/users/${userId}/stats`)).json()).documents.total).toBe(2);
    // And what was cached is the primary's answer, so later hits show no lag either.
    expect(JSON.parse(entryJson(await redis.get(services.keys.user(userId)))!).name).toBe("after");
    expect(JSON.parse(entryJson(await redis.get(services.keys.userStats(userId)))!).documents.total).toBe(2);
    expect((await (await request(`/users/${userId}`)).json()).name).toBe("after");
  } finally {
    await pair.resumeReplay();
  }
});

test("replica down: reads fall back to the primary, /readyz says so (still ready), and the replica is used again once back", async () => {
  // A second service that polls only at startup: its first read after the stop is the one that
  // meets the dead replica, and is retried on the primary within the same request.
  const late = await createServices(
    testEnv({ DATABASE_URL: pair.primaryUrl, DATABASE_REPLICA_URLS: pair.replicaUrl, REDIS_URL, REDIS_KEY_PREFIX: PREFIX, DB_REPLICA_CHECK_MS: "60000" }),
  );
  const lateRequest = requester(createApp(late));
  const key = `replica ${new URL(pair.replicaUrl).host}`;
  try {
    expect((await (await lateRequest("/readyz")).json()).checks[key]).toBe("ok");
    await pair.stopReplica();
    for (const req of [lateRequest, request]) {
      const list = await req(`/users/${userId}/documents`);
      expect(list.status).toBe(200);
      expect(await titles(list)).toEqual(["second", "after-pause"]);
      expect((await req("/users/me", { as: userId })).status).toBe(200);
      const ready = await req("/readyz");
      expect(ready.status).toBe(200);
      expect((await ready.json()).checks[key]).toBe("down");
    }
    // Back: the next poll finds it, and reads go to it again.
    await pair.restartReplica();
    while ((await (await request("/readyz")).json()).checks[key] !== "ok") await Bun.sleep(20);
    await replicaCaughtUpForService();
    await pair.pauseReplay();
    try {
      expect((await request("/documents", { method: "POST", as: userId, json: { title: "third" } })).status).toBe(201);
      expect(await titles(await request(`/users/${userId}/documents`))).not.toContain("third");
    } finally {
      await pair.resumeReplay();
    }
  } finally {
    await late.close();
  }
});
