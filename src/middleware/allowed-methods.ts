import type { Hono, MiddlewareHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../context/app-env";

export interface AllowedMethodsOptions {
  /** The app whose routes say which methods each path has (read on the first request). */
  app: Hono<AppEnv>;
  /** Paths that must stay indistinguishable from unknown ones (the guarded /debug views). */
  hidden?: (path: string) => boolean;
}

/** The methods of each route pattern, as `Allow` lists them (HEAD with GET, OPTIONS always). */
function methodTable(app: Hono<AppEnv>, hidden: (path: string) => boolean) {
  const byPath = new Map<string, Set<string>>();
  for (const r of app.routes) {
    // Middleware: app.use (ALL) and the write chain mounted on "*" for every path.
    if (r.method === "ALL" || r.path.endsWith("*") || hidden(r.path)) continue;
    const set = byPath.get(r.path) ?? new Set<string>();
    set.add(r.method);
    if (r.method === "GET") set.add("HEAD");
    byPath.set(r.path, set);
  }
  const router = new TrieRouter<Set<string>>();
  for (const [path, methods] of byPath) router.add("ALL", path, methods);
  return (path: string): Set<string> | null => {
    const union = new Set<string>();
    for (const [methods] of router.match("ALL", path)[0]) for (const m of methods) union.add(m);
    if (union.size === 0) return null;
    union.add("OPTIONS");
    return union;
  };
}

/**
 * 405 with `Allow` for a known path asked with a method it has no route for, and 204 with
 * `Allow` for an OPTIONS that no CORS preflight answered. Mounted before the body checks and
 * authentication, so `DELETE /users/1` is a 405 with or without a token (hono's own
 * methodNotAllowed decides after the handlers, i.e. after the 401/415 of the write chain).
 */
export function allowedMethods({ app, hidden = () => false }: AllowedMethodsOptions): MiddlewareHandler<AppEnv> {
  let table: ((path: string) => Set<string> | null) | undefined;
  const allowFor = (path: string) => (table ??= methodTable(app, hidden))(path);
  const refuse = (method: string, path: string, allow: Set<string>) => {
    const list = [...allow].join(", ");
    return new ApiError(405, "method_not_allowed", `${method} is not allowed on ${path} (allowed: ${list})`, undefined, { Allow: list });
  };
  return async function allowedMethods(c, next) {
    const method = c.req.method;
    // Reads (the hot path) are not looked up: a GET or HEAD reaches a route or the 404 handler,
    // and only that 404 asks whether the path has other methods.
    if (method === "GET" || method === "HEAD") {
      await next();
      if (c.get("unmatched")) {
        const allow = allowFor(c.req.path);
        if (allow) {
          // Dropped, so the error response below does not inherit the 404's headers.
          c.res = undefined as never;
          throw refuse(method, c.req.path, allow);
        }
      }
      return;
    }
    const allow = allowFor(c.req.path);
    if (method === "OPTIONS") {
      // A refused CORS preflight for an unknown path stays the bare 204 it always was.
      if (allow === null && !c.get("preflight")) return next();
      return c.body(null, 204, allow === null ? undefined : { Allow: [...allow].join(", ") });
    }
    if (allow === null || allow.has(method)) return next();
    // Before the body checks and authentication: the method decides, whatever the token. Counted
    // like a 404 under "(unmatched)": no route ran, and ids must not become metric labels.
    c.set("unmatched", true);
    throw refuse(method, c.req.path, allow);
  };
}
