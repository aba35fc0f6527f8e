import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { createApp } from "../src/app";
import { logger } from "../src/lib/log";
import { harness, type Harness } from "./support/harness";
import { tokenFor } from "./support/auth";

const ADMIN_JSON = { "content-type": "application/json", authorization: `Bearer ${await tokenFor("admin")}` };

// Issue 8, "Also": what reaches the server but is not a well-formed or complete request. A real
// Bun.serve on a port the OS hands out, raw sockets, the app's own log lines and route table.
const TOKEN = "edges-debug-token-0123";
let h: Harness;
let server: Server<undefined>;
const lines: string[] = [];

beforeAll(async () => {
  h = await harness("http_edges", { env: { LOG_LEVEL: "info", DEBUG_TOKEN: TOKEN } });
  const app = createApp({ ...h.services, log: logger("info", (l) => lines.push(l)) });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
});
afterAll(async () => {
  await server?.stop(true);
  await h?.close();
});

/** Writes `raw` on a new connection, then closes our side after `holdMs`; returns what came back. */
async function rawExchange(raw: string, holdMs = 300): Promise<string> {
  let got = "";
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.port!,
    socket: {
      data(_s, d) {
        got += d.toString();
      },
    },
  });
  socket.write(raw);
  await Bun.sleep(holdMs);
  socket.end();
  return got;
}

const logged = () => lines.map((l) => JSON.parse(l) as { level: string; msg: string; route?: string; status?: number });

async function requestLine(route: string, since: number) {
  for (let i = 0; i < 100; i++) {
    const line = logged().slice(since).find((l) => l.msg === "request" && l.route === route);
    if (line) return line;
    await Bun.sleep(20);
  }
  throw new Error(`no request line for ${route}`);
}

async function routeStatuses(method: string, route: string): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${server.port}/debug/routes`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as { routes: { method: string; route: string; statuses: Record<string, number> }[] };
  return body.routes.find((r) => r.method === method && r.route === route)?.statuses ?? {};
}

const head = "POST /users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

test("a malformed chunked body: Bun answers 400, the app logs no error and counts no 500", async () => {
  const since = lines.length;
  const answer = await rawExchange(`${head}zz\r\n{"a":1}\r\n0\r\n\r\n`);
  expect(answer.startsWith("HTTP/1.1 400")).toBe(true);
  // The connection is gone (Bun closed it after its 400), which the app cannot tell from a client
  // that left mid-body: counted 499, the client's doing either way.
  expect((await requestLine("/users", since)).status).toBe(499);
  expect(logged().slice(since).filter((l) => l.level === "error")).toEqual([]);
  const statuses = await routeStatuses("POST", "/users");
  expect(Object.keys(statuses).filter((s) => s >= "500")).toEqual([]);
});

test("a client that closes mid-body is counted 499 (client closed request), not a server error", async () => {
  const since = lines.length;
  // Half a chunked body, then the client goes away.
  expect(await rawExchange(`${head}7\r\n{"a":1}\r\n`)).toBe("");
  const line = await requestLine("/users", since);
  expect(line.status).toBe(499);
  expect(logged().slice(since).filter((l) => l.level === "error")).toEqual([]);
  expect((await routeStatuses("POST", "/users"))["499"]).toBeGreaterThanOrEqual(1);
  const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: ADMIN_JSON }).then((r) => r.text());
  expect(metrics).toContain('route="/users",status_code="499"');
  expect(metrics).not.toContain('route="/users",status_code="500"');
});

test("431: headers over Bun's limit are refused by Bun itself, before the app (empty body, not JSON)", async () => {
  const since = lines.length;
  const answer = await rawExchange(`GET /users/1 HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
  // Bun's HTTP parser answers and closes; Bun.serve offers no hook for it (see README).
  expect(answer.startsWith("HTTP/1.1 431")).toBe(true);
  expect(answer.slice(answer.indexOf("\r\n\r\n") + 4)).toBe("");
  expect(answer.toLowerCase()).not.toContain("content-type");
  await Bun.sleep(100);
  expect(logged().slice(since).filter((l) => l.msg === "request")).toEqual([]);
  // Just under the limit the app answers as usual, with the JSON shape.
  const ok = await rawExchange(`GET /users/999999 HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(15_000)}\r\nConnection: close\r\n\r\n`);
  expect(ok.startsWith("HTTP/1.1 404")).toBe(true);
  expect(ok).toContain('"code":"not_found"');
});
