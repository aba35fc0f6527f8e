import { sql, type SQL } from "drizzle-orm";

// Server-side generation: one INSERT … SELECT generate_series per batch, so a million rows cost
// a few seconds of Postgres time and no client round trips per row.

/** Users [from, to]: deterministic emails so reruns are idempotent (ON CONFLICT DO NOTHING). */
export const insertUsers = (from: number, to: number): SQL => sql`
  insert into users (id, email, name, bio, created_at, updated_at)
  select g, 'user' || g || '@example.com', 'User ' || g,
         case when g % 3 = 0 then null else 'Bio of user ' || g end,
         now() - make_interval(days => 400) + g * interval '1 second',
         now() - make_interval(days => 400) + g * interval '1 second'
  from generate_series(${from}::int, ${to}::int) g
  on conflict do nothing`;

/**
 * Documents [from, to] spread over `users` users with a skew: the owner is users * r^3 for a
 * pseudo-random r, so low ids own many documents and most users own a few (a realistic
 * long tail). Timestamps spread over the last 365 days; ~10 % fall in the last 24 h window
 * for big runs only by chance. Status mix: 60 % published, 30 % draft, 10 % archived.
 */
export const insertDocuments = (from: number, to: number, users: number): SQL => sql`
  insert into documents (id, user_id, title, body, status, created_at, updated_at)
  select g,
         1 + floor(${users}::int * power((hashint4(g) & 2147483647)::float8 / 2147483647, 3))::int,
         'Document ' || g,
         repeat('lorem ipsum ', 5 + (g % 20)),
         (case when g % 10 < 6 then 'published' when g % 10 < 9 then 'draft' else 'archived' end)::document_status,
         now() - ((hashint4(g + 7) & 2147483647)::float8 / 2147483647) * interval '365 days',
         now() - ((hashint4(g + 7) & 2147483647)::float8 / 2147483647) * interval '365 days'
  from generate_series(${from}::int, ${to}::int) g
  on conflict do nothing`;

/** Identity sequences must move past explicitly inserted ids or the next POST collides. */
export const syncSequences = (): SQL[] => [
  sql`select setval(pg_get_serial_sequence('users', 'id'), coalesce((select max(id) from users), 0) + 1, false)`,
  sql`select setval(pg_get_serial_sequence('documents', 'id'), coalesce((select max(id) from documents), 0) + 1, false)`,
];

export const insertDemoFlags = (): SQL => sql`
  insert into feature_flags (key, enabled, value, description) values
    ('new-editor', true, '{"rollout": 25}', 'New document editor, staged rollout'),
    ('search.v2', false, null, 'Second-generation search backend'),
    ('rate-limit', true, '{"perMinute": 600}', 'Requests per minute per client')
  on conflict do nothing`;
