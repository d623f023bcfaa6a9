import { type Kysely, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import type { UserCounterDelta } from '../../domain/effects.js';
import { prepared } from '../pg-driver.js';
import type { ConnectionRequestRow, DB, UserRow } from '../schema.js';
import { storeUserJson } from './user-json.js';
import { connectionStatusSql } from './users.js';

type Executor = Kysely<DB>;

const pair = (a: number, b: number) =>
  sql`least(from_user_id, to_user_id) = least(${a}::int, ${b}::int) AND greatest(from_user_id, to_user_id) = greatest(${a}::int, ${b}::int)`;

/** A member of a locked pair: what a change decides on (the pending-request cap reads the counter). */
export type LockedPairMember = Pick<UserRow, 'id' | 'requests_sent_count'>;

/**
 * Locks both users' rows in id order (so two transactions on one pair never deadlock) and returns
 * those that exist and are active, by id. Every change to a pair happens under these locks, so the
 * counters read here stay true until the transaction ends.
 */
export async function lockPair(db: Executor, me: number, them: number): Promise<Map<number, LockedPairMember>> {
  const { rows } = await sql<LockedPairMember & { is_active: boolean }>`
    SELECT id, is_active, requests_sent_count FROM users WHERE id IN (${me}, ${them})
    ORDER BY id FOR NO KEY UPDATE`.execute(db);
  return new Map(
    rows.filter((r) => r.is_active).map((r) => [r.id, { id: r.id, requests_sent_count: r.requests_sent_count }]),
  );
}

/** A member's row as `lockMembers` returns it: what a deletion decides on. */
export type LockedMember = Pick<UserRow, 'id' | 'is_active' | 'role' | 'deleted'>;

/**
 * Locks these users' rows in id order (FOR NO KEY UPDATE, the order and strength of `lockPair`, so a
 * change of many pairs and a change of one never deadlock) and returns the rows that exist, by id.
 */
export async function lockMembers(db: Executor, ids: readonly number[]): Promise<Map<number, LockedMember>> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return new Map();
  const { rows } = await sql<LockedMember>`
    SELECT id, is_active, role, deleted FROM users
    WHERE id IN (${sql.join(wanted)}) ORDER BY id FOR NO KEY UPDATE`.execute(db);
  return new Map(rows.map((r) => [r.id, r]));
}

/** Everyone a member is related to: connected, a request either way (rejected ones too), a follow either way. */
export async function relatedMembers(db: Executor, id: number): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    SELECT friend_id AS id FROM connections WHERE user_id = ${id}
    UNION SELECT to_user_id FROM connection_requests WHERE from_user_id = ${id}
    UNION SELECT from_user_id FROM connection_requests WHERE to_user_id = ${id}
    UNION SELECT followed_id FROM follows WHERE follower_id = ${id}
    UNION SELECT follower_id FROM follows WHERE followed_id = ${id}
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.id);
}

export interface PairRows {
  connected: boolean;
  /** The pair's one request, either way, if any. */
  request: ConnectionRequestRow | undefined;
  /** Who hides whom in the pair (`user_hides`), from my side. */
  hides: { byMe: boolean; byThem: boolean };
}

/** What the pair's rows say (the domain reads the state from them: `pairStateOf`). */
export async function loadPair(db: Executor, me: number, them: number): Promise<PairRows> {
  type Row = ConnectionRequestRow & { connected: boolean; hidden_by_me: boolean; hidden_by_them: boolean };
  const { rows } = await sql<Row>`
    SELECT r.*, EXISTS (SELECT 1 FROM connections WHERE user_id = ${me} AND friend_id = ${them}) AS connected,
      EXISTS (SELECT 1 FROM user_hides WHERE hider_id = ${me} AND hidden_id = ${them}) AS hidden_by_me,
      EXISTS (SELECT 1 FROM user_hides WHERE hider_id = ${them} AND hidden_id = ${me}) AS hidden_by_them
    FROM (SELECT 1) one LEFT JOIN connection_requests r ON ${pair(me, them)}`.execute(db);
  const { connected, hidden_by_me, hidden_by_them, ...request } = rows[0]!;
  const hides = { byMe: hidden_by_me, byThem: hidden_by_them };
  return { connected, request: request.id === null ? undefined : request, hides };
}

export async function insertRequest(db: Executor, from: number, to: number, withheld: boolean) {
  return db
    .insertInto('connection_requests')
    .values({ from_user_id: from, to_user_id: to, rejected: null, viewed: null, withheld })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Takes a waiting request out of its recipient's sight, or shows it again (the per-day counts follow by trigger). */
export async function setWithheld(db: Executor, id: number, withheld: boolean) {
  await db.updateTable('connection_requests').set({ withheld }).where('id', '=', id).execute();
}

export async function deleteRequest(db: Executor, id: number) {
  await db.deleteFrom('connection_requests').where('id', '=', id).execute();
}

export async function setRejected(db: Executor, id: number, rejected: boolean) {
  await db
    .updateTable('connection_requests')
    .set({ rejected: rejected ? sql<Date>`now()` : null })
    .where('id', '=', id)
    .execute();
}

export async function markViewed(db: Executor, id: number) {
  await db
    .updateTable('connection_requests')
    .set({ viewed: sql<Date>`coalesce(viewed, now())` })
    .where('id', '=', id)
    .execute();
}

export async function insertConnection(db: Executor, a: number, b: number) {
  const created = sql<Date>`now()`;
  await db
    .insertInto('connections')
    .values([
      { user_id: a, friend_id: b, created },
      { user_id: b, friend_id: a, created },
    ])
    .execute();
}

export async function deleteConnection(db: Executor, a: number, b: number) {
  await db
    .deleteFrom('connections')
    .where((eb) =>
      eb.or([
        eb.and([eb('user_id', '=', a), eb('friend_id', '=', b)]),
        eb.and([eb('user_id', '=', b), eb('friend_id', '=', a)]),
      ]),
    )
    .execute();
}

/**
 * Adds to the counters of a pair's two users in one statement and stores their list JSON again
 * (it shows the counters), in the caller's transaction. Counters a delta does not name stay.
 */
export async function addToCounters(db: Executor, deltas: ReadonlyArray<{ userId: number; delta: UserCounterDelta }>) {
  const counted = (d: UserCounterDelta) =>
    [d.connections ?? 0, d.sent ?? 0, d.received ?? 0, d.followers ?? 0, d.followings ?? 0] as const;
  const changed = deltas.filter(({ delta }) => counted(delta).some((n) => n !== 0));
  if (changed.length === 0) return;
  const values = sql.join(
    changed.map(({ userId, delta }) => {
      const [connections, sent, received, followers, followings] = counted(delta);
      return sql`(${userId}::int, ${connections}::int, ${sent}::int, ${received}::int, ${followers}::int, ${followings}::int)`;
    }),
  );
  const { rows } = await sql<UserRow>`
    UPDATE users u SET connections_count = u.connections_count + d.connections,
                       requests_sent_count = u.requests_sent_count + d.sent,
                       requests_received_count = u.requests_received_count + d.received,
                       followers_count = u.followers_count + d.followers,
                       followings_count = u.followings_count + d.followings
    FROM (VALUES ${values}) AS d(id, connections, sent, received, followers, followings)
    WHERE u.id = d.id
    RETURNING u.*`.execute(db);
  await storeUserJson(db, rows);
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
