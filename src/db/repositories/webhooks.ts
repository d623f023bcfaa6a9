import { type Kysely, sql } from 'kysely';
import { CHANNEL_DELIVERIES } from '../../contracts/channels.js';
import type { AttemptOrderField, EndpointOrderField } from '../../domain/webhooks.js';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/** Inserts an endpoint (without its event types: see replaceEventTypes) and returns its id. */
export async function insertEndpoint(
  db: Executor,
  values: {
    target: string;
    description: string;
    is_active: boolean;
    ssl_cert_verification: boolean;
    signing_secret: string;
  },
) {
  const endpoint = await db.insertInto('webhook_endpoints').values(values).returning('id').executeTakeFirstOrThrow();
  return endpoint.id;
}

/** Keeps the `added_at` of types that stay; adds the new ones; drops the others. */
export async function replaceEventTypes(db: Executor, endpointId: number, types: string[]) {
  await db
    .deleteFrom('webhook_endpoint_events')
    .where('endpoint_id', '=', endpointId)
    .$if(types.length > 0, (q) => q.where('type', 'not in', types))
    .execute();
  if (types.length === 0) return;
  await db
    .insertInto('webhook_endpoint_events')
    .values(types.map((type) => ({ endpoint_id: endpointId, type })))
    .onConflict((oc) => oc.columns(['endpoint_id', 'type']).doNothing())
    .execute();
}

export async function findEndpoints(db: Executor, ids: number[]) {
  if (ids.length === 0) return [];
  const [endpoints, events] = await Promise.all([
    db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute(),
    db
      .selectFrom('webhook_endpoint_events')
      .selectAll()
      .where('endpoint_id', 'in', ids)
      .orderBy('added_at')
      .orderBy('type')
      .execute(),
  ]);
  const byId = new Map(endpoints.map((e) => [e.id, { ...e, events: [] as Array<{ type: string; added_at: Date }> }]));
  for (const e of events) byId.get(e.endpoint_id)?.events.push({ type: e.type, added_at: e.added_at });
  return ids.map((id) => byId.get(id)).filter((e) => e !== undefined);
}

export type EndpointWithEvents = Awaited<ReturnType<typeof findEndpoints>>[number];

export async function listEndpointIds(
  db: Executor,
  options: {
    target?: string | undefined;
    orderBy: EndpointOrderField;
    descending: boolean;
    limit: number;
    offset: number;
  },
) {
  let query = db.selectFrom('webhook_endpoints');
  if (options.target) query = query.where('target', 'ilike', `%${options.target.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const [rows, total] = await Promise.all([
    query
      .select('id')
      .orderBy(options.orderBy, options.descending ? 'desc' : 'asc')
      .orderBy('id', options.descending ? 'desc' : 'asc')
      .limit(options.limit)
      .offset(options.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { ids: rows.map((r) => r.id), total: total.n };
}

/** Changes an endpoint's fields (switching it on clears its failure streak); false when there is no such endpoint. */
export async function updateEndpoint(
  db: Executor,
  id: number,
  patch: Partial<{ target: string; description: string; is_active: boolean; ssl_cert_verification: boolean }>,
) {
  const reactivated = patch.is_active === true ? { failing_since: null, disabled_reason: null } : {};
  const row = await db
    .updateTable('webhook_endpoints')
    .set({ ...patch, ...reactivated, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteEndpoint(db: Executor, id: number) {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Rotates the secret: the old one keeps signing beside the new one until `graceUntil`. */
export async function rotateSecret(db: Executor, id: number, secret: string, graceUntil: Date) {
  const row = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({
      previous_secret: eb.ref('signing_secret'),
      previous_secret_expires: graceUntil,
      signing_secret: secret,
      updated_at: sql<Date>`now()`,
    }))
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function listAttempts(
  db: Executor,
  endpointId: number,
  options: { orderBy: AttemptOrderField; descending: boolean; limit: number; offset: number },
) {
  const { orderBy, descending, limit, offset } = options;
  const base = db.selectFrom('webhook_attempts as a').where('a.endpoint_id', '=', endpointId);
  const [rows, total] = await Promise.all([
    base
      .innerJoin('events as e', 'e.id', 'a.event_id')
      .select([
        'a.id',
        'a.created_at',
        'a.sent_at',
        'a.http_request_body',
        'a.http_request_signature_header',
        'a.http_response_code',
        'a.http_response_body',
        'a.error',
        'a.next_retry',
        'a.event_id',
        'e.type as event_type',
        'e.created as event_created',
      ])
      .orderBy(`a.${orderBy}`, descending ? 'desc' : 'asc')
      .orderBy('a.id', descending ? 'desc' : 'asc')
      .limit(limit)
      .offset(offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: total.n };
}

export type AttemptRow = Awaited<ReturnType<typeof listAttempts>>['rows'][number];

/** Queues (again) the events for an endpoint: a fresh delivery, due now. Returns the ids that exist. */
export async function requeue(db: Executor, endpointId: number, eventIds: number[], now: Date) {
  if (eventIds.length === 0) return [];
  // KEY SHARE: the pruning (retention) cannot delete them between this look and the insert, and one
  // it deleted first is not found (a 404 naming it, not a foreign-key error).
  const existing = await db.selectFrom('events').select('id').where('id', 'in', eventIds).forKeyShare().execute();
  const ids = existing.map((e) => e.id);
  if (ids.length === 0) return [];
  await db
    .insertInto('webhook_deliveries')
    .values(ids.map((event_id) => ({ endpoint_id: endpointId, event_id, next_attempt_at: now })))
    .onConflict((oc) =>
      oc.columns(['endpoint_id', 'event_id']).doUpdateSet({ status: 'pending', attempts: 0, next_attempt_at: now }),
    )
    .execute();
  await sql`SELECT pg_notify(${CHANNEL_DELIVERIES}, ${String(ids[0])})`.execute(db);
  return ids;
}

export interface ClaimedDelivery {
  id: number;
  endpoint_id: number;
  event_id: number;
  attempts: number;
}

export interface ClaimRequest {
  now: Date;
  /** Until when the claimed rows are this worker's (next_attempt_at is pushed to it). */
  leaseUntil: Date;
  /** At most this many rows in all. */
  limit: number;
  /** At most this many rows in flight per endpoint, counting those the worker already has. */
  perEndpoint: number;
  /** Rows the worker has in flight, by endpoint. */
  busy: ReadonlyMap<number, number>;
}

/**
 * Claims due deliveries for this worker: SKIP LOCKED lets several workers share the queue without
 * taking the same row; pushing next_attempt_at forward is the lease that a crashed worker lets lapse.
 * Endpoints whose slots are full are skipped, so the rows behind a stalled endpoint's are reached;
 * within an endpoint the oldest rows come first.
 */
export async function claimDue(db: Executor, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  const { now, leaseUntil, limit, perEndpoint, busy } = request;
  if (limit <= 0) return [];
  const inFlight = [...busy].map(([endpoint_id, n]) => ({ endpoint_id, n }));
  const full = inFlight.filter((b) => b.n >= perEndpoint).map((b) => b.endpoint_id);
  // Locked rows beyond an endpoint's free slots are read and let go at the end of the statement.
  const { rows } = await sql<ClaimedDelivery>`
    WITH candidates AS (
      SELECT q.id, q.endpoint_id, q.next_attempt_at FROM webhook_deliveries q
      WHERE q.status = 'pending' AND q.next_attempt_at <= ${now}
        AND q.endpoint_id <> ALL (${`{${full.join(',')}}`}::int[])
        AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = q.endpoint_id AND w.is_active)
      ORDER BY q.next_attempt_at, q.id
      LIMIT ${limit * perEndpoint}
      FOR UPDATE OF q SKIP LOCKED
    ), ranked AS (
      SELECT c.id, c.next_attempt_at,
             row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at, c.id) + coalesce(b.n, 0) AS slot
      FROM candidates c
      LEFT JOIN jsonb_to_recordset(${JSON.stringify(inFlight)}::jsonb) AS b(endpoint_id int, n int)
        ON b.endpoint_id = c.endpoint_id
    ), chosen AS (
      SELECT r.id FROM ranked r WHERE r.slot <= ${perEndpoint} ORDER BY r.next_attempt_at, r.id LIMIT ${limit}
    )
    UPDATE webhook_deliveries d SET next_attempt_at = ${leaseUntil}
    FROM chosen WHERE d.id = chosen.id
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts`.execute(db);
  // A paused endpoint keeps what was queued before the pause; it goes out when the endpoint is active again.
  return rows;
}

export async function loadForDelivery(db: Executor, delivery: ClaimedDelivery) {
  return db
    .selectFrom('webhook_endpoints as w')
    .innerJoin('events as e', (join) => join.on('e.id', '=', delivery.event_id))
    .select([
      'w.target',
      'w.is_active',
      'w.ssl_cert_verification',
      'w.signing_secret',
      'w.previous_secret',
      'w.previous_secret_expires',
      'e.id as event_id',
      'e.type',
      'e.created',
      'e.data',
    ])
    .where('w.id', '=', delivery.endpoint_id)
    .executeTakeFirst();
}

export interface AttemptRecord {
  delivery: ClaimedDelivery;
  createdAt: Date;
  sentAt: Date;
  body: string;
  signature: string;
  status: number | null;
  responseBody: string;
  error: string | null;
  ok: boolean;
  /** When the next try is due; null when this was the last one. */
  nextRetry: Date | null;
  disableAfterMs: number;
}

/** Records one HTTP try and its consequences (delivery state, the endpoint's failure streak); the caller's transaction makes it atomic. */
export async function recordAttempt(db: Executor, record: AttemptRecord) {
  const { delivery } = record;
  await db
    .insertInto('webhook_attempts')
    .values({
      delivery_id: delivery.id,
      endpoint_id: delivery.endpoint_id,
      event_id: delivery.event_id,
      created_at: record.createdAt,
      sent_at: record.sentAt,
      http_request_body: record.body,
      http_request_signature_header: record.signature,
      http_response_code: record.status,
      http_response_body: record.responseBody,
      error: record.error,
      next_retry: record.ok ? null : record.nextRetry,
    })
    .execute();
  await db
    .updateTable('webhook_deliveries')
    .set({
      attempts: delivery.attempts + 1,
      status: record.ok ? 'succeeded' : record.nextRetry ? 'pending' : 'failed',
      ...(record.nextRetry && !record.ok ? { next_attempt_at: record.nextRetry } : {}),
    })
    .where('id', '=', delivery.id)
    .execute();
  if (record.ok) {
    await db
      .updateTable('webhook_endpoints')
      .set({ failing_since: null })
      .where('id', '=', delivery.endpoint_id)
      .execute();
    return;
  }
  const endpoint = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({ failing_since: eb.fn.coalesce('failing_since', sql<Date>`${record.sentAt}::timestamptz`) }))
    .where('id', '=', delivery.endpoint_id)
    .returning(['failing_since', 'is_active'])
    .executeTakeFirst();
  const since = endpoint?.failing_since;
  if (endpoint?.is_active && since && record.sentAt.getTime() - since.getTime() >= record.disableAfterMs) {
    await db
      .updateTable('webhook_endpoints')
      .set({
        is_active: false,
        disabled_reason: `Switched off at ${record.sentAt.toISOString()}: every delivery failed since ${since.toISOString()} (last error: ${record.error ?? 'unknown'}).`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', delivery.endpoint_id)
      .execute();
    await db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed' })
      .where('endpoint_id', '=', delivery.endpoint_id)
      .where('status', '=', 'pending')
      .execute();
  }
}

/**
 * At most this many pending deliveries are read by `deliveryQueue`, so a scrape stays cheap during a
 * large backlog. Measured on the embedded database (this 2-core machine): 1 000 pending 2 ms,
 * 100 000 98 ms, 300 000 still 100 ms (the cap).
 */
export const QUEUE_READ_CAP = 100_000;

export interface DeliveryQueue {
  /** Deliveries waiting to go out to active endpoints (capped at QUEUE_READ_CAP). */
  pending: number;
  /** Of those, the ones whose time has come (what the worker would claim now). */
  due: number;
  /** Seconds since the oldest of them was queued; 0 when none waits. */
  oldestAgeSeconds: number;
}

/**
 * The webhook queue as operators watch it, in one statement over the partial index of pending
 * deliveries. Deliveries held for paused endpoints are not counted: they wait on purpose. Past
 * QUEUE_READ_CAP pending rows the figures describe the rows read, not the whole backlog.
 */
export async function deliveryQueue(db: Executor): Promise<DeliveryQueue> {
  const { rows } = await sql<{ pending: number; due: number; oldest_age: number | null }>`
    SELECT count(*)::int AS pending,
           (count(*) FILTER (WHERE q.next_attempt_at <= now()))::int AS due,
           extract(epoch FROM now() - min(q.created_at))::float8 AS oldest_age
    FROM (
      SELECT d.next_attempt_at, d.created_at FROM webhook_deliveries d
      WHERE d.status = 'pending'
        AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.is_active)
      LIMIT ${QUEUE_READ_CAP}
    ) q`.execute(db);
  const row = rows[0];
  return { pending: row?.pending ?? 0, due: row?.due ?? 0, oldestAgeSeconds: Math.max(0, row?.oldest_age ?? 0) };
}
