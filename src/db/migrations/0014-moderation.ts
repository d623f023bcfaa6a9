import { type Kysely, sql } from 'kysely';

/**
 * Moderation blocks (`PATCH /api/v2/moderation/user/{id}/`, `kith user block`): a blocked member is
 * inactive (`is_active = false`, so every "active members only" reader leaves them out) and carries
 * when the block began and, unless it is for ever, how many days it lasts and when it ends. A member
 * deactivated by an operator is inactive without `blocked_at`: unblocking and activating stay distinct.
 * The partial index serves the sweep that lifts the blocks whose time is up.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE users
      ADD COLUMN blocked_at timestamptz,
      ADD COLUMN days_blocked integer CHECK (days_blocked > 0),
      ADD COLUMN block_expires_at timestamptz,
      ADD CONSTRAINT users_blocked_inactive CHECK (blocked_at IS NULL OR NOT is_active),
      ADD CONSTRAINT users_block_duration CHECK (
        (days_blocked IS NULL AND block_expires_at IS NULL)
        OR (blocked_at IS NOT NULL AND days_blocked IS NOT NULL AND block_expires_at IS NOT NULL))`.execute(db);
  await sql`CREATE INDEX users_block_expires_idx ON users (block_expires_at) WHERE block_expires_at IS NOT NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX users_block_expires_idx`.execute(db);
  await sql`
    ALTER TABLE users
      DROP CONSTRAINT users_block_duration,
      DROP CONSTRAINT users_blocked_inactive,
      DROP COLUMN block_expires_at,
      DROP COLUMN days_blocked,
      DROP COLUMN blocked_at`.execute(db);
}
