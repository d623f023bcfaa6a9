import { type Kysely, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import type { NotificationType } from '../../domain/events.js';
import type { DB, UserRow } from '../schema.js';
import { connectionStatusSql } from './users.js';

type Executor = Kysely<DB>;

export interface NotificationRow {
  id: number;
  user_id: number;
  type: NotificationType;
  created: Date;
  read_at: Date | null;
  request_id: number | null;
  event_id: number;
  event_type: string;
  event_created: Date;
  event_from: number;
  event_to: number;
  actor: UserRow & { connection_status: string | null };
}

function selectNotifications(userId: number, mode: GraphMode) {
  return sql`
    SELECT n.id, n.user_id, n.type, n.created, n.read_at, n.request_id, n.event_id,
           e.type AS event_type, e.created AS event_created, e.from_user_id AS event_from, e.to_user_id AS event_to,
           (SELECT to_jsonb(a) || jsonb_build_object('connection_status', ${connectionStatusSql(userId, sql`a.id`, mode)})
              FROM users a WHERE a.id = n.actor_id) AS actor
    FROM notifications n JOIN events e ON e.id = n.event_id`;
}

function revive(row: NotificationRow): NotificationRow {
  const actor = row.actor as unknown as Record<string, unknown>;
  actor.date_joined = new Date(actor.date_joined as string);
  return row;
}

/** A page of a user's notifications, newest first, by id cursor; `before`/`after` exclusive. */
export async function listNotifications(
  db: Executor,
  userId: number,
  cursor: { before?: number; after?: number },
  limit: number,
  mode: GraphMode,
): Promise<{ rows: NotificationRow[]; hasOlder: boolean; hasNewer: boolean }> {
  let rows: NotificationRow[];
  if (cursor.after !== undefined) {
    const result = await sql<NotificationRow>`${selectNotifications(userId, mode)}
      WHERE n.user_id = ${userId} AND n.id > ${cursor.after} ORDER BY n.id ASC LIMIT ${limit + 1}`.execute(db);
    const hasNewer = result.rows.length > limit;
    rows = result.rows.slice(0, limit).reverse();
    const last = rows.at(-1);
    const hasOlder = last ? await exists(db, userId, sql`n.id < ${last.id}`) : false;
    return { rows: rows.map(revive), hasOlder, hasNewer };
  }
  const before = cursor.before;
  const result = await sql<NotificationRow>`${selectNotifications(userId, mode)}
    WHERE n.user_id = ${userId} ${before !== undefined ? sql`AND n.id < ${before}` : sql``}
    ORDER BY n.id DESC LIMIT ${limit + 1}`.execute(db);
  const hasOlder = result.rows.length > limit;
  rows = result.rows.slice(0, limit);
  const first = rows[0];
  const hasNewer = first ? await exists(db, userId, sql`n.id > ${first.id}`) : false;
  return { rows: rows.map(revive), hasOlder, hasNewer };
}

async function exists(db: Executor, userId: number, condition: ReturnType<typeof sql>) {
  const { rows } = await sql<{ found: boolean }>`
    SELECT EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = ${userId} AND ${condition}) AS found`.execute(db);
  return rows[0]?.found === true;
}

export async function findNotification(db: Executor, userId: number, id: number, mode: GraphMode) {
  const { rows } = await sql<NotificationRow>`${selectNotifications(userId, mode)}
    WHERE n.id = ${id} AND n.user_id = ${userId}`.execute(db);
  const row = rows[0];
  return row ? revive(row) : undefined;
}

/** Unread notifications of a user; with `upTo`, only those made up to that one (a realtime message's count). */
export async function countUnseen(db: Executor, userId: number, upTo?: number): Promise<number> {
  const row = await db
    .selectFrom('notifications')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .$if(upTo !== undefined, (q) => q.where('id', '<=', upTo as number))
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function markRead(db: Executor, userId: number, ids: number[]) {
  if (ids.length === 0) return;
  await db
    .updateTable('notifications')
    .set({ read_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('id', 'in', ids)
    .where('read_at', 'is', null)
    .execute();
}

/** Deletes every notification a member received or caused (a deleted member's). */
export async function deleteNotificationsOf(db: Executor, userId: number) {
  await db
    .deleteFrom('notifications')
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
    .execute();
}

/** The users of an event, for the `connection` object of a realtime message. */
export async function eventUsers(db: Executor, viewerId: number, ids: number[], mode: GraphMode) {
  const { rows } = await sql<UserRow & { connection_status: string | null }>`
    SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
    FROM users u WHERE u.id = ANY(${ids}::int[])`.execute(db);
  return new Map(rows.map((r) => [r.id, r]));
}
