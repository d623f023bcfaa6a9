import type { Kysely } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/** Stores a refresh token by its hash (the token itself is never stored), in a family (a new one: a sign-in). */
export async function insertRefreshToken(
  db: Executor,
  token: { hash: string; userId: number; expires: Date; family?: string | undefined },
) {
  await db
    .insertInto('refresh_tokens')
    .values({
      token_hash: token.hash,
      user_id: token.userId,
      expires: token.expires,
      used_at: null,
      ...(token.family ? { family: token.family } : {}),
    })
    .execute();
}

/**
 * Marks the refresh token with this hash used (once: it is locked while marked) and returns whose
 * it was, until when, its family and whether it had been used before; undefined if unknown.
 */
export async function useRefreshToken(db: Executor, hash: string) {
  const row = await db
    .selectFrom('refresh_tokens')
    .select(['user_id', 'expires', 'family', 'used_at'])
    .where('token_hash', '=', hash)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.used_at === null) {
    await db.updateTable('refresh_tokens').set({ used_at: new Date() }).where('token_hash', '=', hash).execute();
  }
  return { userId: row.user_id, expires: row.expires, family: row.family, reused: row.used_at !== null };
}

/** Revokes every token of a family (a used token came back: the family is compromised). */
export async function revokeFamily(db: Executor, family: string) {
  await db.deleteFrom('refresh_tokens').where('family', '=', family).execute();
}

/** Deletes every refresh token of a member (a deleted member's). */
export async function deleteRefreshTokensOf(db: Executor, userId: number) {
  await db.deleteFrom('refresh_tokens').where('user_id', '=', userId).execute();
}
