import { type Kysely, sql } from 'kysely';

/**
 * A deep page finds its day by summing the per-day counts of the list's owner (migration 0003):
 * a celebrity's year is 365 rows, which the trigger's updates scatter over as many heap pages
 * (345 of a deep page's 448 buffer visits on the benchmark). With `pending` in the primary key's
 * index the sum is read from the index alone.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE connection_request_days
      DROP CONSTRAINT connection_request_days_pkey,
      ADD CONSTRAINT connection_request_days_pkey PRIMARY KEY (to_user_id, day) INCLUDE (pending)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE connection_request_days
      DROP CONSTRAINT connection_request_days_pkey,
      ADD CONSTRAINT connection_request_days_pkey PRIMARY KEY (to_user_id, day)`.execute(db);
}
