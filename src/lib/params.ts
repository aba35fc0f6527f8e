import { z } from "zod";

const INT4_MAX = 2 ** 31 - 1;

/** An id in a JSON body: a positive int4 (the column type), as a JSON number. */
export const id = z.number().int().min(1).max(INT4_MAX);

/**
 * An id in a path: plain decimal digits only, so "abc", "0", "-1", "1e3", "0x10" and "1.5" are
 * 400s rather than silently read as some other number, and an id past int4 never reaches Postgres.
 */
export const pathId = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, "must be a positive integer")
  .transform(Number)
  .pipe(z.number().max(INT4_MAX, `must be at most ${INT4_MAX}`));
export const idParam = z.object({ id: pathId });

/** A PATCH body: any subset of the fields, nothing else, and not empty. */
export const patchOf = <T extends z.ZodRawShape>(shape: T) =>
  z
    .object(shape)
    .partial()
    .strict()
    .refine((v) => Object.keys(v).length > 0, { message: `give at least one of ${Object.keys(shape).join(", ")}` });
