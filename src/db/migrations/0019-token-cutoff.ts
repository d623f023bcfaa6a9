import { type Kysely, sql } from 'kysely';

/**
 * Access tokens issued before a member was withdrawn (blocked, deactivated, deleted) never work
 * again, even once the member is unblocked or activated: `tokens_not_before` is the first second
 * (Unix time) whose tokens (`iat`) the gate accepts for them. 0: every token. Adding a column with a
 * constant default rewrites nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN tokens_not_before integer NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users DROP COLUMN tokens_not_before`.execute(db);
}
