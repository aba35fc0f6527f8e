import { eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../db/client";
import { publicUserColumns, userColumns } from "../db/queries";
import type { ReadTarget } from "../db/replicas";
import { users } from "../db/schema";
import { requireMatch } from "../lib/preconditions";

// Every statement on users, reads and writes. Reads take the target the read router picked
// (a replica or the primary); writes run on the primary. Driver errors pass through untouched:
// lib/errors.ts maps them (a taken email is 409 there).

export interface NewUser {
  email: string;
  name: string;
  bio?: string | null;
}
export type UserChanges = Partial<NewUser>;

export function usersRepository(primary: ReadTarget) {
  const { db } = primary;
  return {
    /** The public profile (no email), or null: what GET /users/:id sends and caches. */
    async publicProfile(id: number, on: ReadTarget = primary) {
      return (await on.queries.userById.execute({ id }))[0] ?? null;
    },

    /** The full profile, email included (GET /users/me), or null. */
    async fullProfile(id: number, on: ReadTarget = primary) {
      return (await on.db.select(userColumns).from(users).where(eq(users.id, id)))[0] ?? null;
    },

    async create(values: NewUser) {
      return (await db.insert(users).values(values).returning(userColumns))[0]!;
    },

    /**
     * Applies `changes`; undefined when there is no such user. With `ifMatch`: in a transaction,
     * the public profile (what GET /users/:id sends, so its ETag is the one to match) is read FOR
     * UPDATE and compared first (412 when it changed).
     */
    async update(id: number, changes: UserChanges, ifMatch?: string) {
      const update = async (q: Db | Tx) =>
        (await q.update(users).set({ ...changes, updatedAt: sql`now()` }).where(eq(users.id, id)).returning(userColumns))[0];
      if (ifMatch === undefined) return update(db);
      return db.transaction(async (tx) => {
        const [current] = await tx.select(publicUserColumns).from(users).where(eq(users.id, id)).for("update");
        if (!current) return undefined;
        requireMatch(ifMatch, current);
        return update(tx);
      });
    },
  };
}

export type UsersRepository = ReturnType<typeof usersRepository>;
