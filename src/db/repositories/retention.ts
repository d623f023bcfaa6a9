import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

// Each function deletes one batch of at most `limit` rows older than `before` and returns how many it
// deleted. SKIP LOCKED: two workers pruning at once take different rows, and a row a request holds is
// left for the next round.

async function deleted(query: Promise<{ rows: unknown[] }>) {
  return (await query).rows.length;
}

/** Attempts older than `before`, except those of a delivery still being retried. */
export const pruneAttempts = (db: Executor, before: Date, limit: number) =>
  deleted(
    sql`DELETE FROM webhook_attempts WHERE id IN (
      SELECT a.id FROM webhook_attempts a
      WHERE a.created_at < ${before}
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id AND d.status = 'pending')
      ORDER BY a.created_at LIMIT ${limit} FOR UPDATE OF a SKIP LOCKED)
    RETURNING id`.execute(db),
  );

/**
 * Finished deliveries (succeeded or failed) queued before `before` and not tried since (a resend
 * queues an old row again). A pending delivery is kept until it succeeds or gives up.
 */
export const pruneDeliveries = (db: Executor, before: Date, limit: number) =>
  deleted(
    sql`DELETE FROM webhook_deliveries WHERE id IN (
      SELECT d.id FROM webhook_deliveries d
      WHERE d.created_at < ${before} AND d.status <> 'pending'
        AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.created_at >= ${before})
      ORDER BY d.created_at LIMIT ${limit} FOR UPDATE OF d SKIP LOCKED)
    RETURNING id`.execute(db),
  );

/** Read notifications created before `before`; unread ones stay. */
export const pruneReadNotifications = (db: Executor, before: Date, limit: number) =>
  deleted(
    sql`DELETE FROM notifications WHERE id IN (
      SELECT n.id FROM notifications n
      WHERE n.created < ${before} AND n.read_at IS NOT NULL
      ORDER BY n.created LIMIT ${limit} FOR UPDATE OF n SKIP LOCKED)
    RETURNING id`.execute(db),
  );

/** Events created before `before` that no notification or delivery refers to any more. */
export const pruneEvents = (db: Executor, before: Date, limit: number) =>
  deleted(
    sql`DELETE FROM events WHERE id IN (
      SELECT e.id FROM events e
      WHERE e.created < ${before}
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.id)
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
      ORDER BY e.created LIMIT ${limit} FOR UPDATE OF e SKIP LOCKED)
    RETURNING id`.execute(db),
  );
