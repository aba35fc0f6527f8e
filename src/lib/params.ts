import { z } from "zod";

/** Path ids: positive int4 (the column type), so "abc", "0" and "1e99" are 400s, not 500s. */
export const id = z.coerce.number().int().min(1).max(2 ** 31 - 1);
export const idParam = z.object({ id });
