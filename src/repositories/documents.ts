import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db, Tx } from "../db/client";
import { docWithAuthorColumns, documentColumns } from "../db/queries";
import type { ReadTarget } from "../db/replicas";
import { documents, users, type DocumentStatus } from "../db/schema";
import { forbidden, notFound } from "../lib/errors";
import { requireMatch } from "../lib/preconditions";

// Every statement on documents but the per-user list (user-documents.ts), reads and writes.
// Driver errors pass through untouched: lib/errors.ts maps them (an unknown userId is 422 there).

export interface NewDocument {
  userId: number;
  title: string;
  body?: string;
  status?: DocumentStatus;
}
export type DocumentChanges = Partial<Pick<NewDocument, "title" | "body" | "status">>;

/**
 * Who may write: `owner` is the only user whose document the write may touch (undefined: any
 * document, an admin); `ifMatch` the request's If-Match header, when it has one.
 */
export interface WriteGuard {
  owner?: number;
  ifMatch?: string;
}

const notOwner = () => forbidden("only the document's owner or an admin may change it");

export function documentsRepository(primary: ReadTarget) {
  const { db, queries } = primary;

  // The write's own WHERE carries the ownership test (one statement, no read-then-write race);
  // only when it matched nothing is the reason looked up: no such document (404, for anyone,
  // so ids reveal nothing) or someone else's (403).
  const ownedBy = (id: number, owner: number | undefined) =>
    owner === undefined ? eq(documents.id, id) : and(eq(documents.id, id), eq(documents.userId, owner));
  const refusal = async (id: number) => {
    const [row] = await db.select({ id: documents.id }).from(documents).where(eq(documents.id, id));
    return row ? notOwner() : notFound("document");
  };

  /**
   * Runs a write of document `id`. Without If-Match: one statement whose WHERE carries the
   * ownership test. With it: in a transaction, the GET's representation read FOR UPDATE (the
   * document row only; the author's name is part of the ETag but not locked), then 404/403 before
   * the precondition (RFC 9110 §13.2.1: a failed precondition is only reported for a request that
   * would otherwise succeed), then 412 or the write (lib/preconditions.ts).
   */
  async function guarded<T>(id: number, guard: WriteGuard, write: (q: Db | Tx, where: SQL | undefined) => Promise<T | undefined>): Promise<T> {
    const { owner, ifMatch } = guard;
    if (ifMatch === undefined) {
      const done = await write(db, ownedBy(id, owner));
      if (done === undefined) throw await refusal(id);
      return done;
    }
    return db.transaction(async (tx) => {
      const [current] = await tx
        .select(docWithAuthorColumns)
        .from(documents)
        .innerJoin(users, eq(users.id, documents.userId))
        .where(eq(documents.id, id))
        .for("update", { of: documents });
      if (!current) throw notFound("document");
      if (owner !== undefined && current.userId !== owner) throw notOwner();
      requireMatch(ifMatch, current);
      return (await write(tx, eq(documents.id, id)))!;
    });
  }

  return {
    /** The document with its author's public name (GET /documents/:id), or null. */
    async withAuthor(id: number) {
      return (await queries.docWithAuthor.execute({ id }))[0] ?? null;
    },

    async create(input: NewDocument) {
      return (await db.insert(documents).values(input).returning(documentColumns))[0]!;
    },

    update(id: number, changes: DocumentChanges, guard: WriteGuard) {
      const fields = { ...changes, updatedAt: sql`now()` };
      return guarded(id, guard, async (q, where) => (await q.update(documents).set(fields).where(where).returning(documentColumns))[0]);
    },

    /** Deletes the document; what it was (its id and owner, for evictions). */
    remove(id: number, guard: WriteGuard) {
      return guarded(id, guard, async (q, where) => (await q.delete(documents).where(where).returning({ id: documents.id, userId: documents.userId }))[0]);
    },
  };
}

export type DocumentsRepository = ReturnType<typeof documentsRepository>;
