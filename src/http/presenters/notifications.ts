import type { FastifyRequest } from 'fastify';
import { presentUser } from '../../contracts/user.js';
import type { NotificationRow } from '../../db/repositories/notifications.js';
import { NOTIFICATION_USER_FIELD } from '../../domain/events.js';

/** Serialization ids: one for the aggregate group, one for the item; both name the same notification. */
export const groupSid = (id: number) => `g${id}`;
export const itemSid = (id: number) => `n${id}`;

/** Parses either kind of sid back to the notification id; undefined for anything else. */
export function parseSid(sid: string): number | undefined {
  const match = /^[gn]([1-9]\d{0,17})$/.exec(sid);
  if (!match?.[1]) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** One notification as an item of an aggregate: `is_new` is true while it is unread. */
export function presentNotificationItem(row: NotificationRow) {
  return {
    is_new: row.read_at === null,
    sid: itemSid(row.id),
    type: row.type,
    active_at: row.created.toISOString(),
    [NOTIFICATION_USER_FIELD[row.type]]: presentUser(row.actor, row.actor.connection_status),
  };
}

/** Connection notifications are never aggregated: each is a group of one. */
export function presentNotificationGroup(row: NotificationRow) {
  return { is_new: row.read_at === null, sid: groupSid(row.id), aggregated: [presentNotificationItem(row)] };
}

/** The request's own absolute URL with the cursor parameter replaced by `key=id`. */
function link(request: FastifyRequest, key: 'next_id' | 'previous_id', id: number) {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.delete('next_id');
  url.searchParams.delete('previous_id');
  url.searchParams.set(key, String(id));
  return url.toString();
}

/** A page of notifications with its `next` (older) and `previous` (newer) links, null at either end. */
export function presentNotificationPage(
  request: FastifyRequest,
  page: { rows: NotificationRow[]; hasOlder: boolean; hasNewer: boolean },
) {
  const first = page.rows[0];
  const last = page.rows.at(-1);
  return {
    next: page.hasOlder && last ? link(request, 'next_id', last.id) : null,
    previous: page.hasNewer && first ? link(request, 'previous_id', first.id) : null,
    results: page.rows.map(presentNotificationGroup),
  };
}
