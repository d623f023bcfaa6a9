import { type Kysely, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import { prepared } from '../pg-driver.js';
import type { DB, UserRow } from '../schema.js';
import { connectionStatusSql } from './users.js';

type Executor = Kysely<DB>;

/** A member's row as `lockMembers` returns it: what a deletion decides on. */
export type LockedMember = Pick<UserRow, 'id' | 'is_active' | 'role' | 'deleted'>;

/**
 * Locks these users' rows in id order (FOR NO KEY UPDATE, the order and strength of `lockPair` in
 * pairs.ts, so a change of many pairs and a change of one never deadlock) and returns the rows that
 * exist, by id.
 */
export async function lockMembers(db: Executor, ids: readonly number[]): Promise<Map<number, LockedMember>> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return new Map();
  const { rows } = await sql<LockedMember>`
    SELECT id, is_active, role, deleted FROM users
    WHERE id IN (${sql.join(wanted)}) ORDER BY id FOR NO KEY UPDATE`.execute(db);
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Everyone a member is related to: connected, a request either way (rejected ones too), a follow
 * either way; with `hides`, a hide either way too.
 */
export async function relatedMembers(db: Executor, id: number, { hides = false } = {}): Promise<number[]> {
  const hidden = hides
    ? sql`UNION SELECT hidden_id FROM user_hides WHERE hider_id = ${id}
          UNION SELECT hider_id FROM user_hides WHERE hidden_id = ${id}`
    : sql``;
  const { rows } = await sql<{ id: number }>`
    SELECT friend_id AS id FROM connections WHERE user_id = ${id}
    UNION SELECT to_user_id FROM connection_requests WHERE from_user_id = ${id}
    UNION SELECT from_user_id FROM connection_requests WHERE to_user_id = ${id}
    UNION SELECT followed_id FROM follows WHERE follower_id = ${id}
    UNION SELECT follower_id FROM follows WHERE followed_id = ${id}
    ${hidden}
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.id);
}

/** The viewer's status towards each of these users; ids that name no active user are left out. */
export async function statuses(db: Executor, viewerId: number, ids: number[], mode: GraphMode) {
  if (ids.length === 0) return [];
  const query = sql<{ id: number; connection_status: string | null }>`
    SELECT u.id, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
    FROM users u WHERE u.id = ANY(${ids}::int[]) AND u.is_active`;
  const { rows } = await db.executeQuery<{ id: number; connection_status: string | null }>(prepared(query.compile(db)));
  return rows;
}

export async function isConnected(db: Executor, a: number, b: number) {
  const row = await db
    .selectFrom('connections')
    .select('user_id')
    .where('user_id', '=', a)
    .where('friend_id', '=', b)
    .executeTakeFirst();
  return row !== undefined;
}
