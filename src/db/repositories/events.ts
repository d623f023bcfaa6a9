import { type Kysely, sql } from 'kysely';
import type { EventType } from '../../domain/events.js';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

export async function insertEvent(
  db: Executor,
  event: { type: EventType; from: number; to: number; data: unknown },
): Promise<number> {
  const { id } = await db
    .insertInto('events')
    .values({ type: event.type, from_user_id: event.from, to_user_id: event.to, data: JSON.stringify(event.data) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

/** Queues the event for every active endpoint subscribed to its type; returns how many were queued. */
export async function queueDeliveries(db: Executor, eventId: number, type: EventType): Promise<number> {
  const result = await db
    .insertInto('webhook_deliveries')
    .columns(['endpoint_id', 'event_id', 'next_attempt_at'])
    .expression((eb) =>
      eb
        .selectFrom('webhook_endpoints as e')
        .innerJoin('webhook_endpoint_events as t', 't.endpoint_id', 'e.id')
        .select(['e.id', sql<number>`${eventId}::bigint`.as('event_id'), sql<Date>`now()`.as('next_attempt_at')])
        .where('e.is_active', '=', true)
        .where('t.type', '=', type),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

/** NOTIFYs on these channels; PostgreSQL sends them only when the transaction commits. */
export async function notifyOnCommit(db: Executor, signals: ReadonlyArray<{ channel: string; payload: string }>) {
  if (signals.length === 0) return;
  await sql`SELECT ${sql.join(signals.map((s) => sql`pg_notify(${s.channel}, ${s.payload})`))}`.execute(db);
}
