import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import { prepared } from '../pg-driver.js';
import type { DB, NewUser, UserRow } from '../schema.js';
import { storeUserJson } from './user-json.js';

type Executor = Kysely<DB>;

/** An ILIKE pattern matching `text` anywhere, its wildcards taken literally. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The settings every request may need, read in the same statement as the viewer. */
export interface Community {
  followEnabled: boolean;
  contentAvailability: boolean;
}

/** The signed-in member as requests carry it: their row without secrets, and the community settings. */
export interface Viewer extends Omit<UserRow, 'password_hash'> {
  community: Community;
}

/** The community settings kith reads on every request, as two columns (plain text: fixed statements embed it). */
export const COMMUNITY_COLUMNS = `
  (SELECT value FROM dynamic_preferences WHERE name = 'follow_enabled') AS pref_follow_enabled,
  (SELECT value FROM dynamic_preferences WHERE name = 'content_availability') AS pref_content_availability`;
export const communityColumns = sql.raw<unknown>(COMMUNITY_COLUMNS);

export function readCommunity(row: { pref_follow_enabled?: unknown; pref_content_availability?: unknown }): Community {
  return {
    followEnabled: row.pref_follow_enabled === true,
    contentAvailability: row.pref_content_availability !== false,
  };
}

/**
 * Refuses every access token issued so far to the member, for good (`tokens_not_before`: the second
 * after now), whatever becomes of the account: tokens issued from the next second on work again.
 */
export async function cutOffTokens(db: Executor, id: number): Promise<void> {
  await sql`UPDATE users SET tokens_not_before = floor(extract(epoch FROM clock_timestamp()))::int + 1
            WHERE id = ${id}`.execute(db);
}

/** Loads an active user (without secrets) and the community settings in one statement. */
export async function findActiveViewer(db: Executor, id: number): Promise<Viewer | undefined> {
  type Row = UserRow & { pref_follow_enabled: unknown; pref_content_availability: unknown };
  const query = sql<Row>`SELECT u.*, ${communityColumns} FROM users u WHERE u.id = ${id} AND u.is_active`;
  // Every signed-in request runs this: a named statement, planned once per connection.
  const { rows } = await db.executeQuery<Row>(prepared(query.compile(db)));
  const row = rows[0];
  if (!row) return undefined;
  // The password hash never leaves this repository with a request's member.
  const { pref_follow_enabled, pref_content_availability, password_hash, ...user } = row;
  return { ...user, community: readCommunity(row) };
}

/** The community settings alone, for anonymous requests. */
export async function loadCommunity(db: Executor): Promise<Community> {
  const { rows } = await sql<{ pref_follow_enabled: unknown; pref_content_availability: unknown }>`
    SELECT ${communityColumns}`.execute(db);
  return readCommunity(rows[0] ?? {});
}

/**
 * The viewer's connection_status towards the user in column `userId`: a lookup by primary key
 * and one by the pair index, whatever the size of either user's graph. A request from a member
 * the viewer hides (withheld) is not shown to them; its sender sees it as any waiting request.
 */
export function connectionStatusSql(
  viewerId: number | null,
  userId: RawBuilder<unknown>,
  mode: GraphMode,
): RawBuilder<string | null> {
  if (viewerId === null) return sql<null>`NULL::text`;
  if (mode === 'follow') {
    return sql<string | null>`CASE
      WHEN ${userId} = ${viewerId} THEN NULL
      WHEN EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${viewerId} AND f.followed_id = ${userId}) THEN 'followed'
    END`;
  }
  return sql<string | null>`CASE
    WHEN ${userId} = ${viewerId} THEN NULL
    WHEN EXISTS (SELECT 1 FROM connections c WHERE c.user_id = ${viewerId} AND c.friend_id = ${userId}) THEN 'connected'
    ELSE (SELECT CASE WHEN r.from_user_id = ${viewerId} THEN 'sent_connection_request'
                      WHEN r.rejected IS NULL AND NOT r.withheld THEN 'received_connection_request' END
          FROM connection_requests r
          WHERE least(r.from_user_id, r.to_user_id) = least(${viewerId}::int, ${userId})
            AND greatest(r.from_user_id, r.to_user_id) = greatest(${viewerId}::int, ${userId}))
  END`;
}

export type UserWithStatus = UserRow & { connection_status: string | null };

/** The graph version of an active user (what their profile and their status towards anyone derive from); undefined otherwise. */
export async function findUserVersion(db: Executor, id: number): Promise<string | undefined> {
  const query = sql<{ graph_version: string }>`SELECT graph_version FROM users WHERE id = ${id} AND is_active`;
  const { rows } = await db.executeQuery<{ graph_version: string }>(prepared(query.compile(db)));
  return rows[0]?.graph_version;
}

export async function findUserWithStatus(db: Executor, viewerId: number | null, id: number, mode: GraphMode) {
  const { rows } = await sql<UserWithStatus>`
    SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
    FROM users u WHERE u.id = ${id} AND u.is_active`.execute(db);
  return rows[0];
}

export async function findById(db: Executor, id: number) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findByUsername(db: Executor, username: string) {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(username)`, '=', username.toLowerCase())
    .executeTakeFirst();
}

/** Which of these unique values are taken already (case-insensitive for username and email). */
export async function findTaken(
  db: Executor,
  values: { username: string; email?: string | null; ext_id?: string | null },
) {
  const rows = await db
    .selectFrom('users')
    .select(['username', 'email', 'ext_id'])
    .where((eb) =>
      eb.or([
        eb(sql<string>`lower(username)`, '=', values.username.toLowerCase()),
        ...(values.email ? [eb(sql<string>`lower(email)`, '=', values.email.toLowerCase())] : []),
        ...(values.ext_id ? [eb('ext_id', '=', values.ext_id)] : []),
      ]),
    )
    .execute();
  const taken = new Set<'username' | 'email' | 'ext_id'>();
  for (const row of rows) {
    if (row.username.toLowerCase() === values.username.toLowerCase()) taken.add('username');
    if (values.email && row.email?.toLowerCase() === values.email.toLowerCase()) taken.add('email');
    if (values.ext_id && row.ext_id === values.ext_id) taken.add('ext_id');
  }
  return taken;
}

/** Inserts a user and stores its list JSON (see user-json.ts), in the caller's transaction if any. */
export async function insertUser(db: Executor, user: NewUser) {
  const row = await db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
  await storeUserJson(db, [row]);
  return row;
}

/** Creates the administrator (id 1) unless a user 1 exists; keeps the id sequence ahead of it. */
export async function ensureAdmin(db: Executor, passwordHash: string | null): Promise<boolean> {
  const inserted = await db
    .insertInto('users')
    .values({ id: 1, username: 'admin', role: 'admin', password_hash: passwordHash })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) await storeUserJson(db, [inserted]);
  await sql`SELECT setval(pg_get_serial_sequence('users', 'id'), greatest((SELECT max(id) FROM users), 1))`.execute(db);
  return inserted !== undefined;
}

/**
 * Changes profile fields and stores the user's list JSON again; the caller runs both in one
 * transaction. Returns the row afterwards, or undefined when no field changed value.
 */
export async function updateProfile(db: Executor, id: number, patch: Partial<NewUser>) {
  const before = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  const keys = Object.keys(patch) as Array<keyof typeof patch>;
  if (!before || keys.every((k) => JSON.stringify(patch[k]) === JSON.stringify(before[k as keyof UserRow]))) return;
  const rows = await db.updateTable('users').set(patch).where('id', '=', id).returningAll().execute();
  await storeUserJson(db, rows);
  return rows[0];
}

export interface UserListFilter {
  search?: string | undefined;
  username?: string | undefined;
  ordering: { column: 'id' | 'username' | 'date_joined'; descending: boolean };
  limit: number;
  offset: number;
}

/** The user list's condition and order for a filter. */
function userListSql(filter: UserListFilter) {
  const conditions = [sql`u.is_active`];
  if (filter.username !== undefined) conditions.push(sql`lower(u.username) = ${filter.username.toLowerCase()}`);
  if (filter.search) {
    const pattern = likePattern(filter.search);
    conditions.push(sql`(u.username ILIKE ${pattern} OR u.real_name ILIKE ${pattern})`);
  }
  const where = sql.join(conditions, sql` AND `);
  const direction = filter.ordering.descending ? sql`DESC` : sql`ASC`;
  const order = sql`ORDER BY ${sql.ref(`u.${filter.ordering.column}`)} ${direction}, u.id ${direction}`;
  return { where, order };
}

/** A page of active users and their total, in one statement. */
export async function listUsers(db: Executor, viewerId: number | null, filter: UserListFilter, mode: GraphMode) {
  const { where, order } = userListSql(filter);
  const { rows } = await sql<UserWithStatus & { total: number }>`
    SELECT t.total, p.* FROM (SELECT count(*) AS total FROM users u WHERE ${where}) t
    LEFT JOIN LATERAL (
      SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
      FROM users u WHERE ${where} ${order}
      LIMIT ${filter.limit} OFFSET ${filter.offset}
    ) p ON true`.execute(db);
  return pageOf(rows);
}

/** The page `listUsers` would answer as ids and graph versions only (its ETag inputs), and the total. */
export async function listUserVersions(db: Executor, filter: UserListFilter) {
  const { where, order } = userListSql(filter);
  const { rows } = await sql<{ total: number; id: number | null; graph_version: string }>`
    SELECT t.total, p.* FROM (SELECT count(*) AS total FROM users u WHERE ${where}) t
    LEFT JOIN LATERAL (
      SELECT u.id, u.graph_version FROM users u WHERE ${where} ${order}
      LIMIT ${filter.limit} OFFSET ${filter.offset}
    ) p ON true`.execute(db);
  return pageOf(rows);
}

/** Splits rows of the "total + LEFT JOIN LATERAL page" shape into the total and the items. */
export function pageOf<T extends { total: number; id: number | null }>(rows: T[]) {
  const total = rows[0]?.total ?? 0;
  return { total, items: rows.filter((r) => r.id !== null) as Array<Omit<T, 'total'>> };
}

/** A member by id or by username (case-insensitive), as the administration commands name them. */
export type MemberRef = { id: number } | { username: string };

/**
 * A member's row, inactive members included; with `lock`, locked FOR UPDATE for a change the caller
 * runs in the same transaction.
 */
export async function findMember(db: Executor, ref: MemberRef, options: { lock?: boolean } = {}) {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) =>
      'id' in ref ? eb('id', '=', ref.id) : eb(sql<string>`lower(username)`, '=', ref.username.toLowerCase()),
    )
    .$if(options.lock === true, (qb) => qb.forUpdate())
    .executeTakeFirst();
}

/**
 * Locks the active administrators' rows and the member's (FOR UPDATE, all in one id-ordered pass,
 * the order every pair change locks in: a move of the member's with an administrator never waits
 * for us while we wait for it) and returns the administrators' ids: a change that may leave the
 * community without one takes this lock first, so two such changes cannot both pass the check (the
 * second sees the first's result).
 */
export async function lockActiveAdminsAnd(db: Executor, memberId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('users')
    .select(['id', 'role', 'is_active'])
    .where((eb) => eb.or([eb.and([eb('role', '=', 'admin'), eb('is_active', '=', true)]), eb('id', '=', memberId)]))
    .orderBy('id')
    .forUpdate()
    .execute();
  return rows.filter((r) => r.role === 'admin' && r.is_active).map((r) => r.id);
}

/** The active administrators' ids, in id order; with `lock`, locked FOR UPDATE in that order. */
export async function activeAdmins(db: Executor, options: { lock?: boolean } = {}): Promise<number[]> {
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('is_active', '=', true)
    .orderBy('id')
    .$if(options.lock === true, (qb) => qb.forUpdate())
    .execute();
  return rows.map((r) => r.id);
}

/** Changes a member's account fields and stores their list JSON again, in the caller's transaction. */
export async function updateAccount(
  db: Executor,
  id: number,
  patch: Partial<Pick<NewUser, 'is_active' | 'role' | 'password_hash'>>,
) {
  const row = await db.updateTable('users').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  await storeUserJson(db, [row]);
  return row;
}

/**
 * Records a moderation block of `days` days from now (undefined: for ever) and makes the member
 * inactive; `null` lifts the block and makes them active again. Stores their list JSON again.
 */
export async function setBlock(db: Executor, id: number, days: number | undefined | null) {
  const block =
    days === null
      ? { is_active: true, blocked_at: null, days_blocked: null, block_expires_at: null }
      : {
          is_active: false,
          blocked_at: sql<Date>`now()`,
          days_blocked: days ?? null,
          block_expires_at: days === undefined ? null : sql<Date>`now() + make_interval(days => ${days})`,
        };
  const row = await db.updateTable('users').set(block).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  await storeUserJson(db, [row]);
  return row;
}

/** The members whose block ended by `now`, in id order. */
export async function expiredBlocks(db: Executor, now: Date): Promise<number[]> {
  const rows = await db.selectFrom('users').select('id').where('block_expires_at', '<=', now).orderBy('id').execute();
  return rows.map((r) => r.id);
}

export interface ModerationFilter {
  search?: string | undefined;
  /** `days`: blocked for some days; `forever`: blocked for ever. */
  daysBlocked?: 'days' | 'forever' | undefined;
  ordering: { column: 'date_joined' | 'blocked_at' | 'block_expires_at'; descending: boolean };
  limit: number;
  offset: number;
}

/**
 * A page of members for moderators (deleted members left out; blocked and deactivated ones
 * included) and their total. Members without the ordering's date come last either way.
 */
export async function listForModeration(db: Executor, filter: ModerationFilter) {
  let query = db.selectFrom('users').where('deleted', '=', false);
  if (filter.search) {
    const pattern = likePattern(filter.search);
    query = query.where((eb) => eb.or([eb('username', 'ilike', pattern), eb('real_name', 'ilike', pattern)]));
  }
  if (filter.daysBlocked === 'days') query = query.where('days_blocked', 'is not', null);
  if (filter.daysBlocked === 'forever') {
    query = query.where('blocked_at', 'is not', null).where('days_blocked', 'is', null);
  }
  const direction = filter.ordering.descending ? 'desc' : 'asc';
  const [items, total] = await Promise.all([
    query
      .selectAll()
      .orderBy(sql`${sql.ref(filter.ordering.column)} ${sql.raw(direction)} NULLS LAST`)
      .orderBy('id', direction)
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { total: Number(total.total), items };
}

/**
 * Erases a member's personal fields and leaves the row as a tombstone (`deleted_<id>`, inactive,
 * deleted) so that its id is never reused; stores their list JSON again. The caller has dissolved
 * their relations (the counters are zero) in the same transaction.
 */
export async function eraseMember(db: Executor, id: number) {
  const row = await db
    .updateTable('users')
    .set({
      username: `deleted_${id}`,
      email: null,
      ext_id: null,
      password_hash: null,
      role: null,
      is_active: false,
      deleted: true,
      real_name: '',
      avatar: null,
      cover: null,
      bio: '',
      location: '',
      location_lat_lng: '',
      position_lat_lng: '',
      date_of_birth: null,
      description: '',
      gender: 'Unspecified',
      website: '',
      company_name: '',
      company_role: '',
      community_badge: false,
      blocked_at: null,
      days_blocked: null,
      block_expires_at: null,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await storeUserJson(db, [row]);
  return row;
}

/** A page of members for administrators, inactive ones included, by id; and their total. */
export async function listMembers(
  db: Executor,
  filter: { search?: string | undefined; limit: number; offset: number },
) {
  const pattern = filter.search ? likePattern(filter.search) : undefined;
  let query = db.selectFrom('users');
  if (pattern)
    query = query.where((eb) => eb.or([eb('username', 'ilike', pattern), eb('real_name', 'ilike', pattern)]));
  const [items, total] = await Promise.all([
    query
      .select(['id', 'username', 'role', 'is_active', 'blocked_at', 'date_joined'])
      .orderBy('id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { total: Number(total.total), items };
}
