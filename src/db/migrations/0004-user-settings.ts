import { type Kysely, sql } from 'kysely';

// Landed migrations are never edited: a change is a new file.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Only the settings a member changed are stored; the others take the catalogue's default.
  await sql`
    CREATE TABLE user_settings (
      user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name text NOT NULL CHECK (length(name) <= 100),
      value jsonb NOT NULL,
      updated timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, name)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE user_settings`.execute(db);
}
