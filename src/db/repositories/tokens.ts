import type { Kysely } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/** Stores a refresh token by its hash (the token itself is never stored). */
export async function insertRefreshToken(db: Executor, token: { hash: string; userId: number; expires: Date }) {
  await db
    .insertInto('refresh_tokens')
    .values({ token_hash: token.hash, user_id: token.userId, expires: token.expires })
    .execute();
}

/** Deletes the refresh token with this hash and returns whose it was and until when; undefined if unknown. */
export async function takeRefreshToken(db: Executor, hash: string) {
  return db
    .deleteFrom('refresh_tokens')
    .where('token_hash', '=', hash)
    .returning(['user_id', 'expires'])
    .executeTakeFirst();
}

/** Deletes every refresh token of a member (a deleted member's). */
export async function deleteRefreshTokensOf(db: Executor, userId: number) {
  await db.deleteFrom('refresh_tokens').where('user_id', '=', userId).execute();
}
