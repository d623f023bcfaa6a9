import { NOTIFICATION_USER_FIELD, type NotificationType } from '../domain/events.js';
import { type GraphMode, presentUser, type UserFields } from './user.js';

/**
 * A notification as the API shows it (`schemas/notification.md`), in the notification list and
 * inside realtime messages alike.
 */
export interface NotificationRecord {
  id: number;
  type: NotificationType;
  created: Date;
  read_at: Date | null;
  /** The member the notification is about, with the recipient's status towards them. */
  actor: UserFields & { connection_status: string | null };
}

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
export function presentNotificationItem(row: NotificationRecord, mode: GraphMode) {
  return {
    is_new: row.read_at === null,
    sid: itemSid(row.id),
    type: row.type,
    active_at: row.created.toISOString(),
    [NOTIFICATION_USER_FIELD[row.type]]: presentUser(row.actor, row.actor.connection_status, mode),
  };
}

/** Connection notifications are never aggregated: each is a group of one. */
export function presentNotificationGroup(row: NotificationRecord, mode: GraphMode) {
  return { is_new: row.read_at === null, sid: groupSid(row.id), aggregated: [presentNotificationItem(row, mode)] };
}
