import { type Kysely, sql } from 'kysely';

/**
 * Hiding (`POST /api/v2/user/{id}/hide/`): one row per member who hides another. The primary key
 * serves "whom do I hide" (my hidden list, in the order I hid them by `created_at`), the second index
 * "who hides me" (`is_hidden_by`, and a sender's requests that must not reach a recipient who hides them).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE user_hides (
      hider_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      hidden_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (hider_id, hidden_id),
      CHECK (hider_id <> hidden_id)
    )`.execute(db);
  await sql`CREATE INDEX user_hides_hidden_idx ON user_hides (hidden_id, hider_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE user_hides`.execute(db);
}
