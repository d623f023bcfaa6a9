import { CHANNEL_DELIVERIES } from '../contracts/channels.js';
import type { GraphMode } from '../contracts/user.js';
import { presentWebhookUser } from '../contracts/webhook-user.js';
import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/events.js';
import type { PairWrites } from '../db/repositories/pairs.js';
import type { UserRow } from '../db/schema.js';
import type { GraphEvent, UserEventType } from '../domain/events.js';

/**
 * A graph change's event as the writing statement records it (db/repositories/pairs.ts): the event
 * row, whose `data` shows both users as the change leaves them (`after`), and the recipient's
 * notification. The statement adds a delivery per active webhook endpoint subscribed to the type and
 * the NOTIFYs that PostgreSQL sends only if the transaction commits. `request` is the pair's request
 * as the change leaves it (`inserted`: the one it inserts), which a `connection_request` notification names.
 */
export function graphEventWrite(
  event: GraphEvent,
  after: ReadonlyMap<number, UserRow>,
  request: number | 'inserted' | undefined,
): NonNullable<PairWrites['event']> {
  const from = after.get(event.from);
  const to = after.get(event.to);
  if (!from || !to) throw new Error('event between users that do not exist');
  // An event happens in the mode whose graph it changes: follows in follow mode, the rest in friendship mode.
  const mode: GraphMode =
    event.type === 'connection.follow' || event.type === 'connection.unfollow' ? 'follow' : 'friendship';
  const data = { from_user: presentWebhookUser(from, mode), to_user: presentWebhookUser(to, mode) };
  const notification = event.notification;
  return {
    type: event.type,
    from: event.from,
    to: event.to,
    data,
    ...(notification && {
      notification: {
        ...notification,
        request: notification.type === 'connection_request' ? (request ?? null) : null,
      },
    }),
  };
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
