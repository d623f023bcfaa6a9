import type { Kysely } from 'kysely';
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
