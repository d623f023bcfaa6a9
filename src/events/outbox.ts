import { CHANNEL_DELIVERIES, CHANNEL_NOTIFICATIONS } from '../contracts/channels.js';
import type { GraphMode } from '../contracts/user.js';
import { presentWebhookUser } from '../contracts/webhook-user.js';
import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/events.js';
import type { UserRow } from '../db/schema.js';
import type { GraphEvent, UserEventType } from '../domain/events.js';

/**
 * Records a graph change inside the transaction that made it: the event row (with the users as
 * they are after the change), a delivery row per active webhook endpoint subscribed to the type,
 * the recipient's notification, and the NOTIFYs that PostgreSQL sends only if the transaction commits.
 */
export async function recordEvent(tx: Database, event: GraphEvent, requestId: number | undefined): Promise<number> {
  const users = await repo.eventUsersNow(tx, [event.from, event.to]);
  const from = users.get(event.from);
  const to = users.get(event.to);
  if (!from || !to) throw new Error('event between users that do not exist');
  // An event happens in the mode whose graph it changes: follows in follow mode, the rest in friendship mode.
  const mode: GraphMode =
    event.type === 'connection.follow' || event.type === 'connection.unfollow' ? 'follow' : 'friendship';
  const data = { from_user: presentWebhookUser(from, mode), to_user: presentWebhookUser(to, mode) };
  const eventId = await repo.insertEvent(tx, { type: event.type, from: event.from, to: event.to, data });
  const queued = await repo.queueDeliveries(tx, eventId, event.type);

  const signals: Array<{ channel: string; payload: string }> = [];
  const notification = event.notification;
  if (notification) {
    const notificationId = await repo.insertNotification(tx, {
      recipient: notification.recipient,
      type: notification.type,
      actor: notification.actor,
      eventId,
      requestId: notification.type === 'connection_request' ? (requestId ?? null) : null,
    });
    signals.push({ channel: CHANNEL_NOTIFICATIONS, payload: `${notification.recipient}:${notificationId}` });
  }
  if (queued > 0) signals.push({ channel: CHANNEL_DELIVERIES, payload: String(eventId) });
  await repo.notifyOnCommit(tx, signals);
  return eventId;
}

/**
 * Records a user event (`user.created`, `user.updated`, `user.deleted`) inside the transaction that
 * made the change: the event row, whose `data` is the user as the webhook user events page shows
 * them (in the community's mode), and a delivery per subscribed endpoint. Nobody is notified.
 */
export async function recordUserEvent(
  tx: Database,
  type: UserEventType,
  user: UserRow,
  mode: GraphMode,
): Promise<number> {
  const eventId = await repo.insertEvent(tx, {
    type,
    from: user.id,
    to: user.id,
    data: presentWebhookUser(user, mode),
  });
  const queued = await repo.queueDeliveries(tx, eventId, type);
  if (queued > 0) await repo.notifyOnCommit(tx, [{ channel: CHANNEL_DELIVERIES, payload: String(eventId) }]);
  return eventId;
}
