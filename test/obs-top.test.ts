import { afterAll, beforeAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { bearer } from "./support/auth";
import { harness, type Harness } from "./support/harness";

const TOKEN = "debug-token-0123456789";
const root = fileURLToPath(new URL("..", import.meta.url));
let h: Harness;
let server: ReturnType<typeof Bun.serve>;
let url: string;

beforeAll(async () => {
  h = await harness("obs-top", { env: { DEBUG_TOKEN: TOKEN } });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: h.app.fetch });
  url = `http://127.0.0.1:${server.port}`;
  const created: any = await (await fetch(`${url}/users`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await bearer("admin")) },
    body: JSON.stringify({ email: "top@example.com", name: "Top" }),
  })).json();
  for (let i = 0; i < 4; i++) await (await fetch(`${url}/users/${created.id}`)).text();
  for (let i = 0; i < 2; i++) await (await fetch(`${url}/flags`)).text();
});
afterAll(async () => {
  server.stop(true);
  await h.close();
});

const top = (...args: string[]) =>
  Bun.spawn(["bun", "run", "src/scripts/top.ts", ...args], { cwd: root, env: { ...process.env, DEBUG_TOKEN: "" }, stdout: "pipe", stderr: "pipe" });

test("bun run top prints the route table of a running service, heaviest first", async () => {
  const p = top("--url", url, "--token", TOKEN);
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  const lines = out.split("\n");
  expect(lines[0]).toContain(`hotpath ${url}`);
  expect(lines[0]).toContain("7 requests");
  const header = lines.find((l) => l.startsWith("route"))!;
  for (const col of ["share", "count", "p50 ms", "p95 ms", "p99 ms", "max ms", "db ms", "q/req", "hit"]) expect(header).toContain(col);
  const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!.trim().split(/\s{2,}/);
  expect(row("GET /users/:id")[2]).toBe("4");
  expect(row("GET /users/:id").at(-2)).toBe("75.0%"); // miss, then 3 hits
  expect(row("GET /flags")[2]).toBe("2");
  expect(row("POST /users")[2]).toBe("1");
  const shares = lines.filter((l) => /^(GET|POST) /.test(l)).map((l) => parseFloat(l.trim().split(/\s{2,}/)[1]!));
  expect(shares).toEqual([...shares].sort((a, b) => b - a));
});

test("without the token it explains the 404 and exits non-zero", async () => {
  const p = top("--url", url);
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  expect(code).toBe(1);
  expect(err).toContain("DEBUG_TOKEN");
});
