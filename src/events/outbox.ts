import { type Kysely, sql } from 'kysely';
import { CHANNEL_DELIVERIES, CHANNEL_NOTIFICATIONS } from '../contracts/channels.js';
import { presentWebhookUser } from '../contracts/webhook-user.js';
import type { DB } from '../db/schema.js';
import type { GraphEvent } from '../domain/events.js';

type Executor = Kysely<DB>;

/**
 * Records a graph change inside the transaction that made it: the event row (with the users as
 * they are after the change), a delivery row per active webhook endpoint subscribed to the type,
 * the recipient's notification, and the NOTIFYs that PostgreSQL sends only if the transaction commits.
 */
export async function recordEvent(tx: Executor, event: GraphEvent, requestId: number | undefined): Promise<number> {
  const users = await tx.selectFrom('users').selectAll().where('id', 'in', [event.from, event.to]).execute();
  const byId = new Map(users.map((u) => [u.id, u]));
  const from = byId.get(event.from);
  const to = byId.get(event.to);
  if (!from || !to) throw new Error('event between users that do not exist');
  // An event happens in the mode whose graph it changes: follows in follow mode, the rest in friendship mode.
  const mode = event.type === 'connection.follow' || event.type === 'connection.unfollow' ? 'follow' : 'friendship';
  const data = { from_user: presentWebhookUser(from, mode), to_user: presentWebhookUser(to, mode) };

  const { id: eventId } = await tx
    .insertInto('events')
    .values({ type: event.type, from_user_id: event.from, to_user_id: event.to, data: JSON.stringify(data) })
    .returning('id')
    .executeTakeFirstOrThrow();

  const deliveries = await tx
    .insertInto('webhook_deliveries')
    .columns(['endpoint_id', 'event_id', 'next_attempt_at'])
    .expression((eb) =>
      eb
        .selectFrom('webhook_endpoints as e')
        .innerJoin('webhook_endpoint_events as t', 't.endpoint_id', 'e.id')
        .select(['e.id', sql<number>`${eventId}::bigint`.as('event_id'), sql<Date>`now()`.as('next_attempt_at')])
        .where('e.is_active', '=', true)
        .where('t.type', '=', event.type),
    )
    .executeTakeFirst();

  let notificationId: number | undefined;
  const notification = event.notification;
  if (notification) {
    const row = await tx
      .insertInto('notifications')
      .values({
        user_id: notification.recipient,
        type: notification.type,
        actor_id: notification.actor,
        event_id: eventId,
        request_id: notification.type === 'connection_request' ? (requestId ?? null) : null,
        read_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    notificationId = row.id;
  }

  const signals = [];
  if (notificationId !== undefined) {
    signals.push(sql`pg_notify(${CHANNEL_NOTIFICATIONS}, ${`${notification?.recipient}:${notificationId}`})`);
  }
  if (Number(deliveries.numInsertedOrUpdatedRows ?? 0) > 0) {
    signals.push(sql`pg_notify(${CHANNEL_DELIVERIES}, ${String(eventId)})`);
  }
  if (signals.length > 0) await sql`SELECT ${sql.join(signals)}`.execute(tx);
  return eventId;
}
