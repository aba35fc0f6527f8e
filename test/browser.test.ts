/// <reference lib="dom" />
// (DOM types: the functions passed to page.evaluate run in the page.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import Redis from "ioredis";
import { chromium, type Browser, type Page } from "playwright-core";
import postgres from "postgres";
import { flushPrefix } from "../src/cache/flush";
import { freshDatabase, REDIS_URL } from "./support/env";
import { insertDocuments } from "./support/http";
import { startService } from "./support/spawn";
import { writeToken } from "./support/write-token";

// A real headless Chromium (Debian's chromium, driven by playwright-core) on a page served from
// another origin calls the real service (own process, real Postgres and Redis): what a browser
// app does, with the browser, not us, enforcing CORS, preflights and Timing-Allow-Origin.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PREFIX = "hpt-browser";
const DEBUG_TOKEN = "browser-debug-token-0123456789";

/** A tiny server on a port of its own: a page there is on another origin than the API. */
function pageServer() {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response("<!doctype html><title>browser app</title>", { headers: { "content-type": "text/html" } }),
  });
}

let app: ReturnType<typeof pageServer> | undefined; // listed in CORS_ORIGINS
let stranger: ReturnType<typeof pageServer> | undefined; // not listed
let service: Awaited<ReturnType<typeof startService>> | undefined;
let browser: Browser | undefined;
let sql: postgres.Sql | undefined;
let ownerId: number;
let docIds: number[];

async function cleanup() {
  await browser?.close();
  await service?.stop();
  app?.stop(true);
  stranger?.stop(true);
  await sql?.end();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  await redis.connect();
  await flushPrefix(redis, PREFIX);
  redis.disconnect();
}

beforeAll(async () => {
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the browser test needs Chromium at ${CHROMIUM}: install Debian's package ` +
          "(apt-get install -y --no-install-recommends chromium; .ci/run does) or set CHROMIUM_PATH",
      );
    }
    app = pageServer();
    stranger = pageServer();
    const { url: dbUrl } = await freshDatabase("browser");
    service = await startService({
      DATABASE_URL: dbUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      DB_SEED_DEMO: "false",
      LOG_LEVEL: "info", // startService waits for the "listening on" line
      CORS_ORIGINS: app.url.origin,
      DEBUG_TOKEN,
    }, 45_000); // below the hook timeout, so a service that never starts still gets cleaned up
    sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    const [owner] = await sql<{ id: number }[]>`insert into users (email, name) values ('owner@example.com', 'Owner') returning id`;
    ownerId = owner!.id;
    const docs = await insertDocuments(
      dbUrl,
      ["first", "second"].map((title) => ({ userId: ownerId, title, createdAt: new Date() })),
    );
    docIds = docs.map((d) => d.id);
    // --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  } catch (err) {
    await cleanup();
    throw err;
  }
});
afterAll(cleanup);

/** A fresh browser tab on `origin`'s page (a new context each: no shared preflight cache). */
async function pageOn(server: { url: URL }): Promise<Page> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  await page.goto(server.url.href);
  return page;
}

/** Route table rows of the running service, by "METHOD route". */
async function routeStatuses(): Promise<Record<string, Record<string, number>>> {
  const res = await fetch(`${service!.url}/debug/routes`, { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } });
  const body = (await res.json()) as { routes: { method: string; route: string; statuses: Record<string, number> }[] };
  return Object.fromEntries(body.routes.map((r) => [`${r.method} ${r.route}`, r.statuses]));
}

const titleOf = async (id: number) => (await sql!<{ title: string }[]>`select title from documents where id = ${id}`)[0]?.title;
const documentCount = async () => (await sql!<{ n: number }[]>`select count(*)::int as n from documents`)[0]!.n;
const preflights = async () => (await routeStatuses())["OPTIONS (preflight)"]?.["204"] ?? 0;

test("a listed origin reads JSON, PATCHes with a bearer token after a preflight, reads serverTiming", async () => {
  const page = await pageOn(app!);
  const before = await preflights();
  const result = await page.evaluate(
    async ({ api, id, token }) => {
      const url = `${api}/documents/${id}`;
      const read = await fetch(url);
      const doc = await read.json();
      const exposed = {
        serverTiming: read.headers.get("server-timing"),
        requestId: read.headers.get("x-request-id"),
        etag: read.headers.get("etag"),
      };
      // Authorization + application/json make this a non-simple request: the browser preflights.
      const write = await fetch(url, {
        method: "PATCH",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "edited in a browser" }),
      });
      const written = await write.json();
      // Resource Timing entries are queued once each body is read; wait for both.
      let entries = performance.getEntriesByName(url, "resource") as PerformanceResourceTiming[];
      while (entries.length < 2) {
        await new Promise((r) => setTimeout(r, 10));
        entries = performance.getEntriesByName(url, "resource") as PerformanceResourceTiming[];
      }
      const timing = entries.map((e) => e.serverTiming.map(({ name, duration, description }) => ({ name, duration, description })));
      return { readStatus: read.status, doc, exposed, writeStatus: write.status, written, timing };
    },
    { api: service!.url, id: docIds[0]!, token: await writeToken(ownerId) },
  );

  expect(result.readStatus).toBe(200);
  expect(result.doc).toMatchObject({ id: docIds[0], title: "first", author: { id: ownerId } });
  expect(result.exposed.serverTiming).toMatch(/^db;dur=/);
  expect(result.exposed.requestId).toBeTruthy();
  expect(result.exposed.etag).toBeTruthy();

  expect(result.writeStatus).toBe(200);
  expect(result.written).toMatchObject({ id: docIds[0], title: "edited in a browser" });
  expect(await titleOf(docIds[0]!)).toBe("edited in a browser");
  expect((await preflights()) - before).toBe(1);

  const [readTiming, writeTiming] = result.timing;
  expect(readTiming!.map((t) => t.name)).toEqual(["db", "pool", "cache", "app", "total"]);
  expect(readTiming!.find((t) => t.name === "db")!.description).toBe("1 query");
  expect(readTiming!.find((t) => t.name === "cache")!.description).toBe("miss");
  expect(writeTiming!.map((t) => t.name)).toEqual(["db", "pool", "cache", "app", "total"]);
  expect(writeTiming!.find((t) => t.name === "cache")!.description).toBe("evict");
  for (const t of [...readTiming!, ...writeTiming!]) expect(t.duration).toBeGreaterThanOrEqual(0);
});

test("an unlisted origin can neither read a response nor get its write past the preflight", async () => {
  const page = await pageOn(stranger!);
  const before = await preflights();
  const outcome = await page.evaluate(
    async ({ api, id, token }) => {
      const settle = (p: Promise<Response>) => p.then((r) => `resolved ${r.status}`, (e: Error) => `rejected ${e.name}`);
      const url = `${api}/documents/${id}`;
      return {
        read: await settle(fetch(url)),
        write: await settle(
          fetch(url, {
            method: "PATCH",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ title: "edited by a stranger" }),
          }),
        ),
      };
    },
    { api: service!.url, id: docIds[1]!, token: await writeToken(ownerId) },
  );
  expect(outcome).toEqual({ read: "rejected TypeError", write: "rejected TypeError" });
  // The preflight was asked and refused, so the PATCH itself was never sent.
  expect((await preflights()) - before).toBe(1);
  expect(await titleOf(docIds[1]!)).toBe("second");
});

test("cross-site form posts and no-cors text/plain posts stay 415 and change nothing, from any origin", async () => {
  const countBefore = await documentCount();
  for (const origin of [stranger!, app!]) {
    const rejectedBefore = (await routeStatuses())["POST /documents"]?.["415"] ?? 0;
    const page = await pageOn(origin);
    const payload = { userId: ownerId, title: "forged" };
    // The no-cors fetch settles once the service has answered.
    await page.evaluate(
      ({ api, body }) =>
        fetch(`${api}/documents`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body }).catch(() => null),
      { api: service!.url, body: JSON.stringify(payload) },
    );
    // Real HTML forms, one per enctype a form can send, the text/plain one shaped to parse as JSON.
    for (const enctype of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      const answered = page.waitForResponse((r) => r.url() === `${service!.url}/documents` && r.request().method() === "POST");
      await page.evaluate(
        ({ api, enctype, payload }) => {
          const json = JSON.stringify({ ...payload, pad: "" });
          const form = Object.assign(document.createElement("form"), { method: "POST", action: `${api}/documents`, enctype });
          form.target = "sink";
          const input = Object.assign(document.createElement("input"), { type: "hidden", name: json.slice(0, -2), value: json.slice(-2) });
          form.append(input);
          const sink = Object.assign(document.createElement("iframe"), { name: "sink" });
          document.body.append(sink, form);
          form.submit();
        },
        { api: service!.url, enctype, payload },
      );
      expect((await answered).status()).toBe(415);
    }
    expect(((await routeStatuses())["POST /documents"]?.["415"] ?? 0) - rejectedBefore).toBe(4);
  }
  expect(await documentCount()).toBe(countBefore);
});
