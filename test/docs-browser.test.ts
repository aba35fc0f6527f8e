/// <reference lib="dom" />
// (DOM types: the functions passed to page.evaluate run in the page.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { freshDatabase, REDIS_URL } from "./support/env";
import { startService } from "./support/spawn";

// GET /docs in a real headless Chromium (Debian's chromium, driven by playwright-core) against
// the real service: the page renders every operation of /openapi.json with every request it
// makes going to the service itself (anything else is blocked and recorded), under its CSP.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let service: Awaited<ReturnType<typeof startService>> | undefined;
let browser: Browser | undefined;

async function cleanup() {
  await browser?.close();
  await service?.stop();
}

beforeAll(async () => {
  try {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the docs browser test needs Chromium at ${CHROMIUM}: install Debian's package ` +
          "(apt-get install -y --no-install-recommends chromium; .ci/run does) or set CHROMIUM_PATH",
      );
    }
    const { url: dbUrl } = await freshDatabase("docs_browser");
    service = await startService({
      DATABASE_URL: dbUrl,
      REDIS_URL,
      REDIS_KEY_PREFIX: "hpt-docs-browser",
      DB_SEED_DEMO: "false",
      LOG_LEVEL: "info", // startService waits for the "listening on" line
    }, 45_000); // below the hook timeout, so a service that never starts still gets cleaned up
    // --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  } catch (err) {
    await cleanup();
    throw err;
  }
});
afterAll(cleanup);

test("/docs renders every operation of /openapi.json from the service's own assets, with nothing else reached", async () => {
  const doc = (await (await fetch(`${service!.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const expected = Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();

  const context = await browser!.newContext();
  const elsewhere: string[] = [];
  const served: string[] = [];
  // Offline: a request to anything but the service is aborted (and would fail the test).
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${service!.url}/`)) {
      served.push(new URL(url).pathname);
      return route.continue();
    }
    elsewhere.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));

  const res = await page.goto(`${service!.url}/docs`);
  expect(res!.status()).toBe(200);
  await page.waitForSelector(".opblock", { timeout: 30_000 });
  const rendered = await page.evaluate(() =>
    [...document.querySelectorAll(".opblock")].map((el) => {
      const method = el.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "";
      const path = el.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
      return `${method} ${path}`;
    }),
  );
  const title = await page.locator(".info .title").textContent();
  await context.close();

  expect(rendered.sort()).toEqual(expected);
  expect(expected).toContain("GET /users/{id}");
  expect(title).toContain("hotpath");
  expect(elsewhere).toEqual([]);
  expect(served).toEqual(expect.arrayContaining(["/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js", "/openapi.json"]));
  // No CSP refusal, no script error.
  expect(problems).toEqual([]);
});
