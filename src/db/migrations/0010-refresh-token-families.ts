import { type Kysely, sql } from 'kysely';

/**
 * Refresh-token families (RFC 6819 §5.2.2.3, OAuth 2.0 Security BCP §4.14): every token issued by
 * refreshing belongs to the family of the sign-in that started it. A refreshed token is kept, marked
 * used, until it expires; presenting a used one again means it was stolen (or replayed), and the
 * whole family is revoked, the thief's fresh token included.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE refresh_tokens ADD COLUMN family uuid NOT NULL DEFAULT gen_random_uuid(), ADD COLUMN used_at timestamptz`.execute(
    db,
  );
  await sql`CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM refresh_tokens WHERE used_at IS NOT NULL`.execute(db);
  await sql`ALTER TABLE refresh_tokens DROP COLUMN family, DROP COLUMN used_at`.execute(db);
}
