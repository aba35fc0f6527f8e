import { expect } from "bun:test";
import { hc } from "hono/client";
import type { AppType } from "../../src/app";
import { bearer, type As } from "./auth";

/**
 * Hono's typed client over an app, without a server (each call is app.request): paths, params,
 * bodies and the documented answers are checked by tsc. Requests a test sends on purpose with an
 * invalid body or path stay raw (h.request): the types would refuse them.
 */
export function client(app: { request: (input: RequestInfo | URL, init?: RequestInit) => Response | Promise<Response> }) {
  return hc<AppType>("http://hotpath.test", { fetch: (input: RequestInfo | URL, init?: RequestInit) => app.request(input, init) });
}

/** Per-request options acting as a user id or an admin: `api.documents.$post({ json }, await as("admin"))`. */
export const as = async (who: As) => ({ headers: await bearer(who) });

/** Asserts the status and answers the body as the document types it for that status. */
export async function bodyOf<R extends { status: number; json(): Promise<unknown> }, S extends R["status"]>(
  res: R,
  status: S,
): Promise<Awaited<ReturnType<Extract<R, { status: S }>["json"]>>> {
  expect(res.status).toBe(status);
  return (await res.json()) as never;
}
