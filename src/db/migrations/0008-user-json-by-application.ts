import { type Kysely, sql } from 'kysely';

/**
 * The stored list JSON of each user (`user_json`, migration 0005) gets one maintainer: the
 * application, which renders it with the same function that renders every other User
 * (`presentUser`) and stores it in the transaction of every change to the user's row. Until now a
 * trigger rendered it with a PL/pgSQL twin of that function (migration 0003), so each new User
 * field needed two renderers and a migration.
 *
 * `kith_meta` remembers which renderer produced the stored text; at start, when the renderer has
 * changed (a new field, a new format), every user's text is rendered again (see
 * db/repositories/user-json.ts). The text stored by the trigger is re-rendered at the first start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER users_store_json ON users`.execute(db);
  await sql`DROP FUNCTION kith_store_user_json()`.execute(db);
  await sql`DROP FUNCTION kith_user_json(users, text)`.execute(db);
  await sql`CREATE TABLE kith_meta (key text PRIMARY KEY, value text NOT NULL)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE kith_meta`.execute(db);
  // The trigger and its PL/pgSQL renderer are gone for good: a rollback past this migration keeps
  // the stored text as the application last rendered it, and nothing refreshes it any more.
}
