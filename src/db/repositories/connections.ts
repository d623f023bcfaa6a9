import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { CounterDelta, PairState } from '../../domain/connection-state.js';
import { FixedStatement } from '../fixed-statement.js';
import type { ConnectionRequestRow, DB, UserRow } from '../schema.js';
import { storeUserJson } from './user-json.js';
import { type Community, communityColumns, connectionStatusSql, readCommunity } from './users.js';

type Executor = Kysely<DB>;

const pair = (a: number, b: number) =>
  sql`least(from_user_id, to_user_id) = least(${a}::int, ${b}::int) AND greatest(from_user_id, to_user_id) = greatest(${a}::int, ${b}::int)`;

/**
 * Locks both users' rows in id order (so two transactions on one pair never deadlock) and returns
 * those that exist and are active. Every change to a pair happens under these locks.
 */
export async function lockPair(db: Executor, me: number, them: number): Promise<Set<number>> {
  const { rows } = await sql<{ id: number; is_active: boolean }>`
    SELECT id, is_active FROM users WHERE id IN (${me}, ${them}) ORDER BY id FOR NO KEY UPDATE`.execute(db);
  return new Set(rows.filter((r) => r.is_active).map((r) => r.id));
}

export interface PairSnapshot {
  state: PairState;
  request: ConnectionRequestRow | undefined;
}

/** The state of the pair from my side. */
export async function loadPair(db: Executor, me: number, them: number): Promise<PairSnapshot> {
  const { rows } = await sql<ConnectionRequestRow & { connected: boolean }>`
    SELECT r.*, EXISTS (SELECT 1 FROM connections WHERE user_id = ${me} AND friend_id = ${them}) AS connected
    FROM (SELECT 1) one LEFT JOIN connection_requests r ON ${pair(me, them)}`.execute(db);
  const row = rows[0];
  if (row?.connected) return { state: 'connected', request: undefined };
  if (!row || row.id === null) return { state: 'none', request: undefined };
  const { connected, ...request } = row;
  const mine = request.from_user_id === me;
  const rejected = request.rejected !== null;
  const state: PairState = mine
    ? rejected
      ? 'sent_rejected'
      : 'sent_pending'
    : rejected
      ? 'received_rejected'
      : 'received_pending';
  return { state, request };
}

export async function insertRequest(db: Executor, from: number, to: number) {
  return db
    .insertInto('connection_requests')
    .values({ from_user_id: from, to_user_id: to, rejected: null, viewed: null })
    .returningAll()
    .executeTakeFirstOrThrow();
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
 * Adds to the counters of the pair's two users in one statement and stores their list JSON again
 * (it shows connections_counter), in the caller's transaction.
 */
export async function addToCounters(db: Executor, deltas: ReadonlyArray<{ userId: number; delta: CounterDelta }>) {
  const changed = deltas.filter(({ delta }) => delta.connections !== 0 || delta.sent !== 0 || delta.received !== 0);
  if (changed.length === 0) return;
  const values = sql.join(
    changed.map(
      ({ userId, delta }) =>
        sql`(${userId}::int, ${delta.connections}::int, ${delta.sent}::int, ${delta.received}::int)`,
    ),
  );
  const { rows } = await sql<UserRow>`
    UPDATE users u SET connections_count = u.connections_count + d.connections,
                       requests_sent_count = u.requests_sent_count + d.sent,
                       requests_received_count = u.requests_received_count + d.received
    FROM (VALUES ${values}) AS d(id, connections, sent, received)
    WHERE u.id = d.id
    RETURNING u.*`.execute(db);
  await storeUserJson(db, rows);
}

/** Where a page of a request list starts: after this row (its `created` in epoch microseconds). */
export interface RowCursor {
  micros: string;
  id: number;
}

export interface JsonPage {
  /** The list's total. */
  count: number;
  /** The page's items as JSON objects joined by commas ('' when empty), ready to go inside `[...]`. */
  items: string;
  /** The last row of the page, to seek from for the next one; null when the page is empty. */
  last: RowCursor | null;
}

export type RequestList = 'pending' | 'rejected' | 'sent';

export interface RequestPageQuery {
  list: RequestList;
  limit: number;
  offset: number;
  /** Seek past this row instead of skipping `offset` rows. */
  after?: RowCursor | undefined;
}

/** Below this offset a plain index walk is as cheap as the per-day counts. */
const DAYS_FROM_OFFSET = 2000;

const iso = (column: RawBuilder<unknown>) => sql`coalesce('"' || kith_iso(${column}) || '"', 'null')`;

/** A page of a request list with the viewer's own standing, from one statement. */
export interface ViewerPage extends JsonPage {
  /** The community settings, read in the same statement. */
  community: Community;
}

type PageSlots = { viewer: number; limit: number; offset: number; micros: string | null; afterId: number | null };
type PageRow = {
  count: number;
  items: string | null;
  last: string | null;
  pref_follow_enabled: unknown;
  pref_content_availability: unknown;
};
type PageShape = 'from-start' | 'after-cursor' | 'by-day';

/**
 * The page statement of one list and shape: built once (a FixedStatement), prepared once per
 * connection, so a request only fills in the viewer, limit, offset and cursor.
 */
function pageStatement(list: RequestList, shape: PageShape) {
  return new FixedStatement<PageSlots, PageRow>((slot) => {
    const viewerId = slot('viewer');
    const filter =
      list === 'pending'
        ? sql`r.to_user_id = ${viewerId} AND r.rejected IS NULL`
        : list === 'rejected'
          ? sql`r.to_user_id = ${viewerId} AND r.rejected IS NOT NULL`
          : sql`r.from_user_id = ${viewerId}`;
    const order = sql`ORDER BY r.created DESC, r.id DESC`;
    // Everything a page shows of a request is in the list's index (migration 0006): index-only.
    const other = list === 'sent' ? sql`r.to_user_id` : sql`r.from_user_id`;
    const columns = sql`r.id, r.created, ${other} AS other_id, r.viewed${list === 'rejected' ? sql`, r.rejected` : sql``}`;

    let page: RawBuilder<unknown>;
    if (shape === 'by-day') {
      page = sql`
      SELECT r.* FROM (
        SELECT d.day, d.upto - d.pending AS before FROM (
          SELECT day, pending, sum(pending) OVER (ORDER BY day DESC) AS upto
          FROM connection_request_days WHERE to_user_id = ${viewerId}
        ) d WHERE d.upto > ${slot('offset')} ORDER BY d.day DESC LIMIT 1
      ) s CROSS JOIN LATERAL (
        SELECT ${columns} FROM connection_requests r
        WHERE ${filter} AND r.created < timestamptz 'epoch' + (s.day + 1) * interval '1 day'
        ${order} OFFSET ${slot('offset')} - s.before LIMIT ${slot('limit')}
      ) r`;
    } else if (shape === 'after-cursor') {
      page = sql`SELECT ${columns} FROM connection_requests r WHERE ${filter}
        AND (r.created, r.id) < (timestamptz 'epoch' + ${slot('micros')}::bigint * interval '1 microsecond', ${slot('afterId')}::int)
        ${order} LIMIT ${slot('limit')}`;
    } else {
      page = sql`SELECT ${columns} FROM connection_requests r WHERE ${filter} ${order}
        LIMIT ${slot('limit')} OFFSET ${slot('offset')}`;
    }

    const status =
      list === 'sent'
        ? sql`'"sent_connection_request"'`
        : list === 'pending'
          ? sql`'"received_connection_request"'`
          : sql`'null'`;
    const otherJson = sql`o.head || ${status} || o.tail`;
    const [fromUser, toUser] = list === 'sent' ? [sql`v.json`, otherJson] : [otherJson, sql`v.json`];
    const rejected = list === 'rejected' ? iso(sql`r.rejected`) : sql`'null'`;
    const count =
      list === 'pending'
        ? sql`v.requests_received_count`
        : list === 'sent'
          ? sql`v.requests_sent_count`
          : sql`(SELECT count(*) FROM connection_requests r WHERE ${filter})::int`;

    // No row at all when the viewer is missing or inactive: the statement is also the auth check.
    return sql<PageRow>`/* prepared */
    WITH page AS MATERIALIZED (${page}),
         v AS (SELECT j.head || 'null' || j.tail AS json, v.requests_received_count, v.requests_sent_count
               FROM users v JOIN user_json j ON j.user_id = v.id WHERE v.id = ${viewerId} AND v.is_active)
    SELECT ${count} AS count,
      (SELECT string_agg('{"id":' || r.id || ',"from_user":' || ${fromUser} || ',"to_user":' || ${toUser}
                         || ',"created":"' || kith_iso(r.created) || '","rejected":' || ${rejected}
                         || ',"viewed":' || ${iso(sql`r.viewed`)} || '}', ',' ${order})
       FROM page r JOIN user_json o ON o.user_id = r.other_id) AS items,
      (SELECT (extract(epoch FROM p.created) * 1000000)::bigint || '.' || p.id
       FROM page p ORDER BY p.created, p.id LIMIT 1) AS last,
      ${communityColumns}
    FROM v`;
  });
}

const pageStatements = new Map<string, ReturnType<typeof pageStatement>>();

/** The page statement that serves a query: its list and shape (cursor, deep offset, or neither). */
function pageStatementFor(query: RequestPageQuery) {
  const shape: PageShape = query.after
    ? 'after-cursor'
    : query.list === 'pending' && query.offset >= DAYS_FROM_OFFSET
      ? 'by-day'
      : 'from-start';
  const key = `${query.list}/${shape}`;
  let statement = pageStatements.get(key);
  if (!statement) {
    statement = pageStatement(query.list, shape);
    pageStatements.set(key, statement);
  }
  return statement;
}

/** The one statement a page of a request list costs (the benchmark replays it with pgbench). */
export function requestPageStatement(db: Executor, query: RequestPageQuery) {
  return pageStatementFor(query).compile(db);
}

/**
 * A page of one of my request lists, newest first, as JSON text built by PostgreSQL in one
 * statement that also loads me: undefined when I am missing or inactive. Each item is byte for
 * byte JSON.stringify(presentReceived/presentSent(...)), the users taken from their stored JSON
 * (user_json).
 * Only the page's rows are read: the page is chosen on the list's index alone (an index-only scan,
 * or a seek with `after`), and a deep offset into pending requests first finds its day from the
 * per-day counts, so it skips less than a day of index entries.
 */
export async function requestPage(
  db: Executor,
  viewerId: number,
  query: RequestPageQuery,
): Promise<ViewerPage | undefined> {
  const { limit, offset, after } = query;
  const [row] = await pageStatementFor(query).execute(db, {
    viewer: viewerId,
    limit,
    offset,
    micros: after?.micros ?? null,
    afterId: after?.id ?? null,
  });
  if (!row) return undefined;
  return {
    count: row.count,
    items: row.items ?? '',
    last: parseRowCursor(row.last),
    community: readCommunity(row),
  };
}

/** Reads the "micros.id" form the page query returns (and cursors carry); null when malformed. */
export function parseRowCursor(text: string | null | undefined): RowCursor | null {
  if (!text) return null;
  const match = /^(-?\d{1,18})\.(\d{1,10})$/.exec(text);
  if (!match) return null;
  const id = Number(match[2]);
  if (id < 1 || id > 2_147_483_647) return null;
  return { micros: match[1]!, id };
}

/**
 * Connections of `userId`: those also connected to the viewer first, then the others, each group
 * newest connection first. `mutual` keeps one group only. Returns the total with the page (User
 * objects as JSON text, built by PostgreSQL), in one statement; null when the user does not exist.
 */
export async function listConnections(
  db: Executor,
  viewerId: number | null,
  userId: number,
  mutual: boolean | undefined,
  limit: number,
  offset: number,
): Promise<JsonPage | null> {
  const isMutual =
    viewerId === null
      ? sql<boolean>`false`
      : sql<boolean>`EXISTS (SELECT 1 FROM connections m WHERE m.user_id = ${viewerId} AND m.friend_id = c.friend_id)`;
  const filter = mutual === undefined ? sql`true` : mutual ? isMutual : sql`NOT ${isMutual}`;
  const total =
    mutual === undefined
      ? sql<number>`x.connections_count`
      : sql<number>`(SELECT count(*) FROM connections c WHERE c.user_id = x.id AND ${filter})::int`;
  const { rows } = await sql<{ count: number; items: string | null }>`/* prepared */
    SELECT ${total} AS count,
      (SELECT string_agg(j.head || coalesce(to_json(${connectionStatusSql(viewerId, sql`j.user_id`)})::text, 'null')
                         || j.tail, ',' ORDER BY page.mutual DESC, page.created DESC, page.friend_id DESC)
       FROM (
         SELECT c.friend_id, c.created, ${isMutual} AS mutual
         FROM connections c WHERE c.user_id = x.id AND ${filter}
         ORDER BY mutual DESC, c.created DESC, c.friend_id DESC
         LIMIT ${limit} OFFSET ${offset}
       ) page JOIN user_json j ON j.user_id = page.friend_id) AS items
    FROM users x
    WHERE x.id = ${userId} AND x.is_active`.execute(db);
  const row = rows[0];
  if (!row) return null;
  return { count: row.count, items: row.items ?? '', last: null };
}

/** The viewer's status towards each of these users; ids that name no active user are left out. */
export async function statuses(db: Executor, viewerId: number, ids: number[]) {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: number; connection_status: string | null }>`/* prepared */
    SELECT u.id, ${connectionStatusSql(viewerId, sql`u.id`)} AS connection_status
    FROM users u WHERE u.id = ANY(${ids}::int[]) AND u.is_active`.execute(db);
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
