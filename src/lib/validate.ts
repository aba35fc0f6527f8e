import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import { ApiError, type ErrorDetail } from "./errors";

type Target = keyof ValidationTargets & ("param" | "query" | "json" | "header");

/**
 * zValidator with our error shape. With zod 4 the default hook returns the issues as a JSON
 * string; here they become `details: [{ location, path, message }]` on a 400.
 */
export function validate<T extends z.ZodType, K extends Target>(target: K, schema: T) {
  return zValidator(target, schema, (result) => {
    if (result.success) return;
    const details: ErrorDetail[] = result.error.issues.map((i) => ({
      location: target,
      path: i.path.map(String).join(".") || "(root)",
      message: i.message,
    }));
    throw new ApiError(400, "validation_failed", `invalid ${target === "json" ? "body" : target}`, details);
  });
}
