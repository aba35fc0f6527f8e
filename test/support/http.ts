import { expect } from "bun:test";
import postgres from "postgres";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { createServices, type Services } from "../../src/services";
import { bearer, type As } from "./auth";
import { REDIS_URL, testEnv } from "./env";
import type { TestResponse } from "./harness";

export type RequestOptions = RequestInit & {
  /** Sent as JSON (content-type set). */
  json?: unknown;
  /** Adds `Authorization: Bearer <token>` for this user id or an admin (test/support/auth.ts). */
  as?: As;
};

/** request(path, init) for an app: the harness' and any app built by hand. */
export function requester(app: ReturnType<typeof createApp>) {
  return async (path: string, init: RequestOptions = {}): Promise<TestResponse> => {
    const { json, as, ...rest } = init;
    let headers = rest.headers as Record<string, string> | undefined;
    if (json !== undefined) {
      rest.body = JSON.stringify(json);
      headers = { "content-type": "application/json", ...headers };
    }
    if (as !== undefined) headers = { ...(await bearer(as)), ...headers };
    if (headers) rest.headers = headers;
    return (await app.request(path, rest)) as TestResponse;
  };
}

/** Port 1 on loopback: nothing listens there, so connecting is refused at once. */
export const CLOSED_PG_URL = "postgres://postgres@127.0.0.1:1/hp_unreachable";
export const CLOSED_REDIS_URL = "redis://127.0.0.1:1";

export interface BareApp {
  app: ReturnType<typeof createApp>;
  services: Services;
  request: ReturnType<typeof requester>;
  close(): Promise<void>;
}

/**
 * An app whose Postgres is unreachable (no migration, no harness database): for 5xx and /readyz
 * 503 tests. Redis is the real one under a prefix of its own unless overridden.
 */
export async function unreachableDbApp(name: string, overrides: Partial<Record<keyof Env, string>> = {}): Promise<BareApp> {
  const env = testEnv({
    DATABASE_URL: CLOSED_PG_URL,
    DB_CONNECT_TIMEOUT_S: "1",
    REDIS_URL,
    REDIS_KEY_PREFIX: `hpt-${name}`.replace(/[^a-z0-9_-]/gi, "-").slice(0, 32),
    ...overrides,
  });
  const services = await createServices(env, { migrate: false });
  const app = createApp(services);
  return { app, services, request: requester(app), close: () => services.close() };
}

/**
 * Asserts the one error shape `{ error: { code, message, details? }, requestId }` with requestId
 * equal to the X-Request-Id header, and returns the body.
 */
export async function expectError(res: Pick<Response, "status" | "headers" | "text">, status: number, code?: string): Promise<any> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body).sort()).toEqual(["error", "requestId"]);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  for (const k of Object.keys(body.error)) expect(["code", "message", "details"]).toContain(k);
  expect(body.requestId).toBeTruthy();
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  if (code !== undefined) expect(body.error.code).toBe(code);
  return body;
}

/** The `path` of every detail of an error body. */
export const detailPaths = (body: any): string[] => (body.error.details ?? []).map((d: { path: string }) => d.path);

export interface DocRow {
  userId: number;
  title?: string;
  body?: string;
  status?: "draft" | "published" | "archived";
  createdAt: Date | string;
}

/**
 * Inserts documents straight into the harness database (bypassing the API, so created_at can be
 * chosen) in the given order; returns them with their ids and created_at as Postgres stored it.
 */
export async function insertDocuments(dbUrl: string, rows: DocRow[]): Promise<{ id: number; createdAt: Date; status: string; title: string }[]> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const out: { id: number; createdAt: Date; status: string; title: string }[] = [];
    for (const r of rows) {
      const at = r.createdAt instanceof Date ? r.createdAt.toISOString() : r.createdAt;
      const [row] = await sql<{ id: number; created_at: Date; status: string; title: string }[]>`
        insert into documents (user_id, title, body, status, created_at, updated_at)
        values (${r.userId}, ${r.title ?? "seeded"}, ${r.body ?? ""}, ${r.status ?? "draft"}, ${at}::timestamptz, ${at}::timestamptz)
        returning id, created_at, status, title`;
      out.push({ id: row!.id, createdAt: row!.created_at, status: row!.status, title: row!.title });
    }
    return out;
  } finally {
    await sql.end();
  }
}

/** Newest first, ties by id: the order the list endpoint promises. */
export const newestFirst = <T extends { id: number; createdAt: Date }>(rows: T[]): T[] =>
  [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
