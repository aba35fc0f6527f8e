import type { ReadTarget } from "../db/replicas";
import type { DocumentStatus } from "../db/schema";

// A user's documents, newest first, keyset-paginated, list columns only: the four list statements
// of the table (db/queries.ts), one per combination of status filter and cursor.

export interface PageRequest {
  userId: number;
  limit: number;
  /** The last row of the previous page (created_at as ISO text, id). */
  after?: { at: string; id: number };
  status?: DocumentStatus;
}

export function userDocumentsRepository(primary: ReadTarget) {
  return {
    /** Up to `limit` rows and whether more follow (one row more is read instead of a count). */
    async page({ userId, limit, after, status }: PageRequest, on: ReadTarget = primary) {
      const { queries } = on;
      const base = { userId, limit: limit + 1 };
      const cursor = after ? { cursorAt: after.at, cursorId: after.id } : undefined;
      const rows = await (status
        ? cursor
          ? queries.docsAfterByStatus.execute({ ...base, ...cursor, status })
          : queries.docsFirstByStatus.execute({ ...base, status })
        : cursor
          ? queries.docsAfter.execute({ ...base, ...cursor })
          : queries.docsFirst.execute(base));
      return { items: rows.slice(0, limit), more: rows.length > limit };
    },
  };
}

export type UserDocumentsRepository = ReturnType<typeof userDocumentsRepository>;
