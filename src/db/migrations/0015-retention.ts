import { type Kysely, sql } from 'kysely';

/**
 * Retention (src/services/retention.ts prunes in batches of rows older than a window): an index on
 * each table's time column, so finding the old rows does not read the whole table, and on every
 * column that refers to a pruned row (an event, a delivery), so each delete checks its references
 * through an index instead of scanning the referring table once per row deleted.
 *
 * webhook_attempts.event_id loses its foreign key: an attempt belongs to a delivery (deleted with it)
 * whose own event_id is checked, so the key only cost a scan of the attempts per event deleted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX events_created_idx ON events (created)`.execute(db);
  await sql`CREATE INDEX notifications_event_idx ON notifications (event_id)`.execute(db);
  await sql`CREATE INDEX notifications_read_created_idx ON notifications (created) WHERE read_at IS NOT NULL`.execute(
    db,
  );
  await sql`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`.execute(db);
  await sql`CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at)`.execute(db);
  await sql`CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id)`.execute(db);
  await sql`CREATE INDEX webhook_attempts_created_idx ON webhook_attempts (created_at)`.execute(db);
  await sql`ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_event_id_fkey`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.event_id)`.execute(
    db,
  );
  await sql`ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id)`.execute(
    db,
  );
  for (const index of [
    'webhook_attempts_created_idx',
    'webhook_attempts_delivery_idx',
    'webhook_deliveries_created_idx',
    'webhook_deliveries_event_idx',
    'notifications_read_created_idx',
    'notifications_event_idx',
    'events_created_idx',
  ]) {
    await sql`DROP INDEX ${sql.id(index)}`.execute(db);
  }
}
