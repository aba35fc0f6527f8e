
import {
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

// Millisecond precision on purpose: JS Dates carry milliseconds, so a keyset cursor built from
// created_at round-trips exactly. Microsecond timestamps would make "< cursor" skip or repeat rows.
const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 }).notNull().defaultNow();

export const documentStatus = pgEnum("document_status", ["draft", "published", "archived"]);
export type DocumentStatus = (typeof documentStatus.enumValues)[number];

export const users = pgTable("users", {
  id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
  email: text("email").notNull().unique("users_email_key"),
  name: text("name").notNull(),
  bio: text("bio"),
  createdAt: ts("created_at"),
  updatedAt: ts("updated_at"),
});

export const documents = pgTable(
  "documents",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    status: documentStatus("status").notNull().default("draft"),
    createdAt: ts("created_at"),
    updatedAt: ts("updated_at"),
  },
  (t) => [
    // Newest-first keyset list: WHERE user_id = $1 AND (created_at, id) < ($2, $3)
    // ORDER BY created_at DESC, id DESC. drizzle's .desc() alone emits DESC NULLS LAST, which
    // does not match a plain ORDER BY ... DESC (NULLS FIRST) and makes Postgres sort; hence
    // .nullsFirst(). The columns are NOT NULL, but the planner matches null ordering anyway.
    index("documents_user_created_idx").on(t.userId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // Per-user counts by status + last activity as an Index Only Scan (GROUP BY status over
    // user_id = $1, max(created_at) covered), and the status-filtered keyset list.
    index("documents_user_status_created_idx").on(
      t.userId,
      t.status,
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    // Global "documents in the last 24 h" as a range scan instead of a full count.
    index("documents_created_idx").on(t.createdAt),
  ],
);

export const featureFlags = pgTable("feature_flags", {
  key: text("key").primaryKey(),
  enabled: boolean("enabled").notNull().default(false),
  value: jsonb("value").$type<unknown>(),
  description: text("description"),
  updatedAt: ts("updated_at"),
});


// Idempotency-Key records (src/middleware/idempotency.ts): the first answer to a write, kept for a
// day, so a retry learns the outcome instead of applying the write again. In Postgres, not Redis:
// a sick Redis must never hide (or double) a write. status null = the first request is in progress.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    // The caller the key belongs to ('' = keys are global); keys of different callers never meet.
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    // SHA-256 of method, path and body: the same key with another request is a 422.
    fingerprint: text("fingerprint").notNull(),
    // Random per claim, so only the request holding the claim completes or releases it.
    owner: text("owner").notNull(),
    status: integer("status"),
    headers: jsonb("headers").$type<Record<string, string>>(),
    body: text("body"),
    createdAt: ts("created_at"),
    // A claim whose request died (process killed) may be taken over after this.
    lockedUntil: timestamp("locked_until", { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);
