import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/** Whether `follower` follows `followed`. */
export async function isFollowing(db: Executor, follower: number, followed: number): Promise<boolean> {
  const row = await db
    .selectFrom('follows')
    .select('follower_id')
    .where('follower_id', '=', follower)
    .where('followed_id', '=', followed)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertFollow(db: Executor, follower: number, followed: number) {
  await db
    .insertInto('follows')
    .values({ follower_id: follower, followed_id: followed, created: sql`now()` })
    .execute();
}

export async function deleteFollow(db: Executor, follower: number, followed: number) {
  await db.deleteFrom('follows').where('follower_id', '=', follower).where('followed_id', '=', followed).execute();
}
