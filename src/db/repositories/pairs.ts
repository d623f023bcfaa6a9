import { type Kysely, type RawBuilder, sql } from 'kysely';
import { CHANNEL_DELIVERIES, CHANNEL_NOTIFICATIONS } from '../../contracts/channels.js';
import type { EventType, NotificationType } from '../../domain/events.js';
import { prepared } from '../pg-driver.js';
import type { ConnectionRequestRow, DB, UserRow } from '../schema.js';
import { COMMUNITY_COLUMNS, type Community, readCommunity } from './users.js';

/**
 * A move of a pair of members in two statements (docs/architecture.md, "The pattern for a write"):
 * `lockPair` locks both members and loads everything the move decides on, `applyPairWrites` writes
 * everything the move's plan produced. Both are one statement each, whatever the move.
 */

/** The database, or a transaction on it. */
export type Executor = Kysely<DB>;

/** Everything a move of the pair decides on, from my (`me`) side, read under both members' locks. */
export interface LockedPair {
  /** Both members' rows as locked (inactive ones included; a missing id is absent). */
  members: Map<number, UserRow>;
  /** The community's settings, read with them (the gate decides on them). */
  community: Community;
  connected: boolean;
  /** The pair's one connection request, either way, if any. */
  request: ConnectionRequestRow | undefined;
  /** Who hides whom in the pair (`user_hides`), from my side. */
  hides: { byMe: boolean; byThem: boolean };
  /** Who follows whom in the pair, from my side. */
  follows: { byMe: boolean; byThem: boolean };
  /**
   * A change to one of the two members committed between this statement's snapshot and its locks
   * (it waited for them): the pair's rows above may predate it, the members' rows do not.
   */
  stale: boolean;
  /** Each member's row version as loaded (`xmin`): a row that changed since has another. */
  versions: ReadonlyMap<number, string>;
  /** Loaded under both members' locks (`lockPair`), or from a snapshot alone (`loadPair`). */
  underLocks: boolean;
}

type Row = Partial<UserRow> & {
  r_id: number | null;
  r_from_user_id: number;
  r_to_user_id: number;
  r_created: Date;
  r_rejected: Date | null;
  r_viewed: Date | null;
  r_withheld: boolean;
  connected: boolean;
  hidden_by_me: boolean;
  hidden_by_them: boolean;
  following: boolean;
  followed_by: boolean;
  pref_follow_enabled: unknown;
  pref_content_availability: unknown;
  locked_version: string | null;
  seen_version: string | null;
};

/**
 * Locks both members' rows in id order (FOR NO KEY UPDATE: two moves of one pair never deadlock, and
 * everything below stays true until the transaction ends) and loads, in the same statement, the
 * members, the community's settings and the pair's rows. One round trip.
 *
 * The statement's snapshot is taken before it waits for the locks, so when it waited for a move that
 * then committed, the pair's rows it read are older than that move. Every move of a pair writes both
 * members' rows (`applyPairWrites`; a withdrawal writes the withdrawn member's), so such a move shows
 * as a locked row newer than the one the snapshot sees (`stale`): the caller loads again, under the
 * locks it now holds. Re-locking rows this transaction holds does not wait.
 */
export function lockPair(db: Executor, me: number, them: number): Promise<LockedPair> {
  return readPair(db, me, them, true);
}

/**
 * Loads what `lockPair` loads, from one snapshot, without locking anything: the first statement of
 * an optimistic move (`applyPairWrites` with `expect`), which writes only if neither member's row
 * changed since (`versions`).
 */
export function loadPair(db: Executor, me: number, them: number): Promise<LockedPair> {
  return readPair(db, me, them, false);
}

async function readPair(db: Executor, me: number, them: number, lock: boolean): Promise<LockedPair> {
  const query = sql<Row>`
    WITH locked AS MATERIALIZED (
      SELECT u.*, u.xmin::text AS locked_version FROM users u
      WHERE u.id IN (${me}::int, ${them}::int) ORDER BY u.id ${lock ? sql`FOR NO KEY UPDATE` : sql``}
    ), pair AS (
      SELECT r.id AS r_id, r.from_user_id AS r_from_user_id, r.to_user_id AS r_to_user_id, r.created AS r_created,
             r.rejected AS r_rejected, r.viewed AS r_viewed, r.withheld AS r_withheld,
             EXISTS (SELECT 1 FROM connections c WHERE c.user_id = ${me}::int AND c.friend_id = ${them}::int) AS connected,
             EXISTS (SELECT 1 FROM user_hides h WHERE h.hider_id = ${me}::int AND h.hidden_id = ${them}::int) AS hidden_by_me,
             EXISTS (SELECT 1 FROM user_hides h WHERE h.hider_id = ${them}::int AND h.hidden_id = ${me}::int) AS hidden_by_them,
             EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${me}::int AND f.followed_id = ${them}::int) AS following,
             EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${them}::int AND f.followed_id = ${me}::int) AS followed_by,
             ${sql.raw(COMMUNITY_COLUMNS)}
      FROM (SELECT 1) one
      LEFT JOIN connection_requests r
        ON least(r.from_user_id, r.to_user_id) = least(${me}::int, ${them}::int)
       AND greatest(r.from_user_id, r.to_user_id) = greatest(${me}::int, ${them}::int)
    )
    SELECT l.*, ${lock ? sql`(SELECT s.xmin::text FROM users s WHERE s.id = l.id)` : sql`l.locked_version`} AS seen_version, p.*
    FROM pair p LEFT JOIN locked l ON true`;
  const { rows } = await db.executeQuery<Row>(prepared(query.compile(db)));
  const first = rows[0]!;
  const members = new Map<number, UserRow>();
  const versions = new Map<number, string>();
  let stale = false;
  for (const row of rows) {
    if (row.id === null || row.id === undefined) continue;
    const {
      r_id,
      r_from_user_id,
      r_to_user_id,
      r_created,
      r_rejected,
      r_viewed,
      r_withheld,
      connected,
      hidden_by_me,
      hidden_by_them,
      following,
      followed_by,
      pref_follow_enabled,
      pref_content_availability,
      locked_version,
      seen_version,
      ...user
    } = row;
    if (locked_version !== seen_version) stale = true;
    members.set(row.id, user as UserRow);
    versions.set(row.id, locked_version!);
  }
  const request =
    first.r_id === null
      ? undefined
      : {
          id: first.r_id,
          from_user_id: first.r_from_user_id,
          to_user_id: first.r_to_user_id,
          created: first.r_created,
          rejected: first.r_rejected,
          viewed: first.r_viewed,
          withheld: first.r_withheld,
        };
  return {
    members,
    community: readCommunity(first),
    connected: first.connected,
    request,
    hides: { byMe: first.hidden_by_me, byThem: first.hidden_by_them },
    follows: { byMe: first.following, byThem: first.followed_by },
    stale,
    versions,
    underLocks: lock,
  };
}

/** A member's counters as a move leaves them (absolute values: the row is locked). */
export type MemberCounters = Pick<
  UserRow,
  'connections_count' | 'requests_sent_count' | 'requests_received_count' | 'followers_count' | 'followings_count'
>;

/** The stored list JSON of a user (`user_json`), as `storedUserParts` renders it. */
export interface StoredUserJson {
  head: string;
  tail: string;
  follow_head: string;
  follow_tail: string;
}

/** What a move writes to the pair's one request row. */
export type RequestWrite =
  | { kind: 'insert'; withheld: boolean }
  | { kind: 'delete'; id: number }
  | { kind: 'update'; id: number; rejected?: boolean; withheld?: boolean; viewed?: true };

/**
 * Every row a move of the pair writes, as values: what the plan's effects came to (services/effects.ts).
 * Requests, connections, hides and follows are between me and them (a hide, a follow: mine of them).
 */
export interface PairWrites {
  me: number;
  them: number;
  request?: RequestWrite;
  connection?: 'insert' | 'delete';
  hide?: 'insert' | 'delete';
  follow?: 'insert' | 'delete';
  /** The `connection_request` notification of this request goes. */
  withdrawRequestNotification?: number;
  /** The unread `user_follow` notification of my follow of them goes. */
  withdrawFollowNotification?: boolean;
  /** Both members' rows: their counters after the move, and their list JSON when it changed. */
  members: ReadonlyArray<{ id: number; counters: MemberCounters; json: StoredUserJson | undefined }>;
  /** The event row (its payload rendered), its webhook deliveries, its notification and the NOTIFYs. */
  event?: {
    type: EventType;
    from: number;
    to: number;
    data: unknown;
    /** `request`: the request the notification is about, `inserted` for the one this move inserts. */
    notification?: { type: NotificationType; recipient: number; actor: number; request: number | 'inserted' | null };
  };
}

/**
 * Writes a move of the pair in one statement (data-modifying CTEs, which all see one snapshot: no
 * two of them touch the same row): the request, connection, hide and follow rows, the notification
 * withdrawn, both members' counters and list JSON, the event, its deliveries, its notification and
 * the NOTIFYs (sent by PostgreSQL on commit). The per-day counts follow by trigger, at the end of the
 * statement. Returns whether it wrote.
 *
 * Either in the caller's transaction, under the pair's locks (`lockPair`): it always writes. Or on
 * its own, after `loadPair`, with `expect`, the members' row versions the plan was made from: the
 * statement first locks both members in id order (the order of `lockPair`) and writes nothing unless
 * both rows are still those versions. Every change of the pair writes both members' rows, so equal
 * versions mean the pair is as loaded, and the locks keep it so until the statement commits. (A row
 * changed after this statement's snapshot was taken is locked in its newest version, whose version
 * differs: nothing is written.)
 */
export async function applyPairWrites(
  db: Executor,
  writes: PairWrites,
  expect?: ReadonlyMap<number, string>,
): Promise<boolean> {
  const { me, them } = writes;
  const ctes: RawBuilder<unknown>[] = [];
  const cte = (name: string, body: RawBuilder<unknown>, materialized = false) =>
    ctes.push(sql`${sql.raw(name)} AS ${materialized ? sql`MATERIALIZED ` : sql``}(${body})`);
  // Every write below is conditioned on `ok`: true under the caller's locks, the guard's verdict otherwise.
  let ok = sql`true`;
  if (expect) {
    const values = sql.join([...expect].map(([id, version]) => sql`(${id}::int, ${version}::text)`));
    // Materialized: evaluated once, before the first write that asks for it, however many ask.
    cte(
      'guard',
      sql`SELECT count(*) = ${expect.size}::int AS ok
          FROM (SELECT u.id, u.xmin::text AS version FROM users u
                WHERE u.id IN (${sql.join([...expect.keys()].map((id) => sql`${id}::int`))})
                ORDER BY u.id FOR NO KEY UPDATE) l
          JOIN (VALUES ${values}) AS e(id, version) ON e.id = l.id AND e.version = l.version`,
      true,
    );
    ok = sql`(SELECT ok FROM guard)`;
  }

  const request = writes.request;
  if (request?.kind === 'insert') {
    cte(
      'request_insert',
      sql`INSERT INTO connection_requests (from_user_id, to_user_id, rejected, viewed, withheld)
          SELECT ${me}::int, ${them}::int, NULL, NULL, ${request.withheld}::boolean WHERE ${ok} RETURNING id`,
    );
  } else if (request?.kind === 'delete') {
    cte('request_delete', sql`DELETE FROM connection_requests WHERE id = ${request.id}::int AND ${ok}`);
  } else if (request?.kind === 'update') {
    const set: RawBuilder<unknown>[] = [];
    if (request.rejected !== undefined) set.push(request.rejected ? sql`rejected = now()` : sql`rejected = NULL`);
    if (request.withheld !== undefined) set.push(sql`withheld = ${request.withheld}::boolean`);
    if (request.viewed) set.push(sql`viewed = coalesce(viewed, now())`);
    cte('request_update', sql`UPDATE connection_requests SET ${sql.join(set)} WHERE id = ${request.id}::int AND ${ok}`);
  }
  if (writes.connection === 'insert') {
    cte(
      'connection_insert',
      sql`INSERT INTO connections (user_id, friend_id, created)
          SELECT v.user_id, v.friend_id, now() FROM (VALUES (${me}::int, ${them}::int), (${them}::int, ${me}::int))
            AS v(user_id, friend_id) WHERE ${ok}`,
    );
  } else if (writes.connection === 'delete') {
    cte(
      'connection_delete',
      sql`DELETE FROM connections
          WHERE (user_id, friend_id) IN ((${me}::int, ${them}::int), (${them}::int, ${me}::int)) AND ${ok}`,
    );
  }
  if (writes.hide === 'insert') {
    cte('hide_insert', sql`INSERT INTO user_hides (hider_id, hidden_id) SELECT ${me}::int, ${them}::int WHERE ${ok}`);
  } else if (writes.hide === 'delete') {
    cte('hide_delete', sql`DELETE FROM user_hides WHERE hider_id = ${me}::int AND hidden_id = ${them}::int AND ${ok}`);
  }
  if (writes.follow === 'insert') {
    cte(
      'follow_insert',
      sql`INSERT INTO follows (follower_id, followed_id, created) SELECT ${me}::int, ${them}::int, now() WHERE ${ok}`,
    );
  } else if (writes.follow === 'delete') {
    cte(
      'follow_delete',
      sql`DELETE FROM follows WHERE follower_id = ${me}::int AND followed_id = ${them}::int AND ${ok}`,
    );
  }
  // Two deletes of notifications at most, never of the same row: a request's and a follow's.
  if (writes.withdrawRequestNotification !== undefined) {
    cte(
      'request_notification_delete',
      sql`DELETE FROM notifications
          WHERE request_id = ${writes.withdrawRequestNotification}::int AND type = 'connection_request' AND ${ok}`,
    );
  }
  if (writes.withdrawFollowNotification) {
    cte(
      'follow_notification_delete',
      sql`DELETE FROM notifications
          WHERE user_id = ${them}::int AND actor_id = ${me}::int AND type = 'user_follow' AND read_at IS NULL AND ${ok}`,
    );
  }

  // Both members in one UPDATE (two CTEs must never update one row).
  if (writes.members.length > 0) {
    const values = sql.join(
      writes.members.map(
        ({ id, counters: c }) =>
          sql`(${id}::int, ${c.connections_count}::int, ${c.requests_sent_count}::int, ${c.requests_received_count}::int, ${c.followers_count}::int, ${c.followings_count}::int)`,
      ),
    );
    cte(
      'members_update',
      sql`UPDATE users u SET connections_count = v.connections, requests_sent_count = v.sent,
                             requests_received_count = v.received, followers_count = v.followers,
                             followings_count = v.followings, graph_version = nextval('kith_graph_version')
          FROM (VALUES ${values}) AS v(id, connections, sent, received, followers, followings)
          WHERE u.id = v.id AND ${ok}`,
    );
  }
  const rendered = writes.members.filter((m) => m.json !== undefined);
  if (rendered.length > 0) {
    const values = sql.join(
      rendered.map(
        ({ id, json }) => sql`(${id}::int, ${json!.head}, ${json!.tail}, ${json!.follow_head}, ${json!.follow_tail})`,
      ),
    );
    cte(
      'members_json',
      sql`INSERT INTO user_json (user_id, head, tail, follow_head, follow_tail)
          SELECT * FROM (VALUES ${values}) AS v(user_id, head, tail, follow_head, follow_tail) WHERE ${ok}
          ON CONFLICT (user_id) DO UPDATE SET head = excluded.head, tail = excluded.tail,
            follow_head = excluded.follow_head, follow_tail = excluded.follow_tail`,
    );
  }

  const signals: RawBuilder<unknown>[] = [];
  const event = writes.event;
  if (event) {
    cte(
      'event',
      sql`INSERT INTO events (type, from_user_id, to_user_id, data)
          SELECT ${event.type}, ${event.from}::int, ${event.to}::int, ${JSON.stringify(event.data)}::jsonb WHERE ${ok}
          RETURNING id`,
    );
    cte(
      'deliveries',
      sql`INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at)
          SELECT e.id, event.id, now()
          FROM event, webhook_endpoints e JOIN webhook_endpoint_events t ON t.endpoint_id = e.id
          WHERE e.is_active AND t.type = ${event.type}
          RETURNING event_id`,
    );
    const notification = event.notification;
    if (notification) {
      const requestId =
        notification.request === 'inserted' ? sql`(SELECT id FROM request_insert)` : sql`${notification.request}::int`;
      cte(
        'notification',
        sql`INSERT INTO notifications (user_id, type, actor_id, event_id, request_id, read_at)
            SELECT ${notification.recipient}::int, ${notification.type}, ${notification.actor}::int, event.id, ${requestId}, NULL
            FROM event RETURNING id, user_id`,
      );
      signals.push(
        sql`(SELECT pg_notify(${CHANNEL_NOTIFICATIONS}, n.user_id || ':' || n.id) FROM notification n) AS notified`,
      );
    }
    signals.push(
      sql`(SELECT pg_notify(${CHANNEL_DELIVERIES}, event.id::text) FROM event
           WHERE EXISTS (SELECT 1 FROM deliveries)) AS queued`,
    );
  }
  if (ctes.length === (expect ? 1 : 0)) return true;
  if (expect) signals.push(sql`${ok} AS applied`);
  // The members' versions were just taken above: the relations' triggers, which run when this
  // statement ends, leave them out (migration 0022).
  if (writes.members.length > 0) {
    const ids = writes.members.map((m) => m.id).join(',');
    signals.push(sql`set_config('kith.bumped', ${ids}, true) AS bumped`);
  }
  const query = sql`WITH ${sql.join(ctes)} SELECT ${signals.length > 0 ? sql.join(signals) : sql`1 AS done`}`;
  // A move takes one of a few dozen shapes (twice: locked and optimistic): each is planned once per connection.
  const { rows } = await db.executeQuery<{ applied?: boolean }>(prepared(query.compile(db)));
  return expect ? rows[0]?.applied === true : true;
}
