import type { MiddlewareHandler, ValidationTargets } from "hono";
import type { z } from "zod";
import { ApiError, type ErrorDetail } from "./errors";

type Target = keyof ValidationTargets & ("param" | "query" | "json" | "header");

/** Deeper JSON than this is refused before zod sees it: zod (and JSON.stringify) recurse per level. */
export const MAX_JSON_DEPTH = 64;

/**
 * Problems Postgres or the validator itself would turn into a 500 rather than a 400: a NUL
 * (\u0000) anywhere in a string or key (Postgres text and jsonb cannot hold it), and nesting so
 * deep that a recursive schema (z.json()) overflows the stack. Iterative, so it cannot overflow.
 */
export function jsonProblem(value: unknown): ErrorDetail | undefined {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  const at = (path: string[]) => path.join(".") || "(root)";
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return { location: "json", path: at(path), message: "must not contain NUL (\\u0000) characters" };
    } else if (v !== null && typeof v === "object") {
      if (path.length >= MAX_JSON_DEPTH) {
        return { location: "json", path: at(path.slice(0, 1)), message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
      }
      for (const [k, child] of Object.entries(v)) {
        if (k.includes("\u0000")) return { location: "json", path: at(path), message: "keys must not contain NUL (\\u0000) characters" };
        stack.push({ v: child, path: [...path, k] });
      }
    }
  }
  return undefined;
}

/**
 * The hook every route's validators report to (lib/openapi.ts sets it as the defaultHook): with
 * zod 4 the validator's own answer is the issues as a JSON string; here they become
 * `details: [{ location, path, message }]` on a 400.
 */
export function validationHook(result: { target: string; success: boolean; error?: { issues: z.core.$ZodIssue[] } }) {
  if (result.success) return;
  const target = result.target as Target;
  const details: ErrorDetail[] = result.error!.issues.map((i) => ({
    location: target,
    path: i.path.map(String).join(".") || "(root)",
    message: i.message,
  }));
  throw new ApiError(400, "validation_failed", `invalid ${target === "json" ? "body" : target}`, details);
}

/**
 * Route middleware for JSON bodies (it runs before the route's validators): jsonProblem's 400
 * before zod sees the body. hono caches the parsed body, so the validator does not parse it
 * again; a malformed body is left to the validator, which answers its usual 400.
 */
export const jsonBodyGuard: MiddlewareHandler = async function jsonBodyGuard(c, next) {
  const parsed = await c.req.json().then(
    (v: unknown) => ({ ok: true as const, v }),
    () => ({ ok: false as const }),
  );
  const problem = parsed.ok ? jsonProblem(parsed.v) : undefined;
  if (problem) throw new ApiError(400, "validation_failed", "invalid body", [problem]);
  await next();
};
