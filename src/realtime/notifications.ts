import { presentNotificationItem } from '../contracts/notification.js';
import { modeOf, presentUser } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import { countUnseen, eventUsers, findNotification } from '../db/repositories/notifications.js';
import { loadCommunity } from '../db/repositories/users.js';
import { NOTIFICATION_USER_FIELD } from '../domain/events.js';

/**
 * The realtime message for a notification, as SelfCommunity's web client reads it:
 * `{"type": "interaction", "data": {activity_type, <user field>, connection, count_interactions, ...}}`.
 * Undefined when the notification is gone (a request cancelled before the message went out).
 */
export async function interactionMessage(db: Database, userId: number, notificationId: number) {
  const mode = modeOf(await loadCommunity(db));
  const row = await findNotification(db, userId, notificationId, mode);
  if (!row) return undefined;
  const [unseen, users] = await Promise.all([
    // As of this notification, so a message built late does not count notifications made after it.
    countUnseen(db, userId, notificationId),
    eventUsers(db, userId, [row.event_from, row.event_to], mode),
  ]);
  const from = users.get(row.event_from);
  const to = users.get(row.event_to);
  const item = presentNotificationItem(row, mode);
  return JSON.stringify({
    type: 'interaction',
    data: {
      activity_type: row.type,
      [NOTIFICATION_USER_FIELD[row.type]]: item[NOTIFICATION_USER_FIELD[row.type]],
      connection: {
        id: row.request_id,
        event: row.event_type,
        from_user: from ? presentUser(from, from.connection_status, mode) : null,
        to_user: to ? presentUser(to, to.connection_status, mode) : null,
        created: row.event_created.toISOString(),
      },
      count_interactions: unseen,
      notification_obj: item,
    },
  });
}
