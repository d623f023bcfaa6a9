import { type Kysely, sql } from 'kysely';

/**
 * Hiding keeps a hidden member's requests out of the hider's sight without filtering pages after the
 * fact: a request whose recipient hides its sender is stored `withheld`, set in the transaction of
 * the hide (or at insert when the recipient hides the sender already) under both members' locks.
 * A withheld request is left out of everything that is the recipient's: the received list's partial
 * index, the per-day counts (the trigger of migration 0003 counts `rejected IS NULL AND NOT withheld`)
 * and `requests_received_count` (kept by the plans' counters: a withheld state contributes nothing to
 * the recipient). The sender's side (their sent list, their counter) does not know the flag, so to
 * them the request looks like any request still waiting. Only a pending request is withheld: a
 * rejected one is already out of the received list (the CHECK).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE connection_requests
      ADD COLUMN withheld boolean NOT NULL DEFAULT false,
      ADD CONSTRAINT connection_requests_withheld_pending CHECK (NOT (withheld AND rejected IS NOT NULL))`.execute(db);
  // Requests of members already hidden (hides before this migration) are withheld now.
  await sql`
    UPDATE connection_requests r SET withheld = true
    WHERE r.rejected IS NULL
      AND EXISTS (SELECT 1 FROM user_hides h WHERE h.hider_id = r.to_user_id AND h.hidden_id = r.from_user_id)`.execute(
    db,
  );
  await sql`DROP INDEX connection_requests_received_idx`.execute(db);
  await sql`
    CREATE INDEX connection_requests_received_idx ON connection_requests (to_user_id, created DESC, id DESC)
      INCLUDE (from_user_id, viewed) WHERE rejected IS NULL AND NOT withheld`.execute(db);
  await countDays(db, 'rejected IS NULL AND NOT withheld', 'rejected, withheld');
  await recount(db, 'r.rejected IS NULL AND NOT r.withheld');
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX connection_requests_received_idx`.execute(db);
  await sql`
    CREATE INDEX connection_requests_received_idx ON connection_requests (to_user_id, created DESC, id DESC)
      INCLUDE (from_user_id, viewed) WHERE rejected IS NULL`.execute(db);
  await sql`UPDATE connection_requests SET withheld = false WHERE withheld`.execute(db);
  await recount(db, 'r.rejected IS NULL');
  await countDays(db, 'rejected IS NULL', 'rejected');
  await sql`
    ALTER TABLE connection_requests DROP CONSTRAINT connection_requests_withheld_pending, DROP COLUMN withheld`.execute(
    db,
  );
}

/**
 * The per-day pending counts' trigger (migration 0003), counting the rows `counted` selects (its
 * columns unqualified; the trigger reads them of OLD and NEW) and fired by changes of `columns`.
 */
async function countDays(db: Kysely<unknown>, counted: string, columns: string) {
  const of = (row: 'OLD' | 'NEW') => sql.raw(counted.replace(/\b(rejected|withheld)\b/g, `${row}.$1`));
  await sql`
    CREATE OR REPLACE FUNCTION kith_count_request_day() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND ${of('OLD')} THEN
        UPDATE connection_request_days SET pending = pending - 1
          WHERE to_user_id = OLD.to_user_id AND day = kith_request_day(OLD.created);
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') AND ${of('NEW')} THEN
        INSERT INTO connection_request_days AS d (to_user_id, day, pending)
          VALUES (NEW.to_user_id, kith_request_day(NEW.created), 1)
          ON CONFLICT (to_user_id, day) DO UPDATE SET pending = d.pending + 1;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`DROP TRIGGER connection_requests_count_days ON connection_requests`.execute(db);
  await sql`
    CREATE TRIGGER connection_requests_count_days
      AFTER INSERT OR DELETE OR UPDATE OF to_user_id, created, ${sql.raw(columns)} ON connection_requests
      FOR EACH ROW EXECUTE FUNCTION kith_count_request_day()`.execute(db);
}

/**
 * The received counters and per-day counts of every recipient of a withheld request, redone from
 * the rows under the rule `counted` (for a row `r`).
 */
async function recount(db: Kysely<unknown>, counted: string) {
  const rule = sql.raw(counted);
  const touched = sql`SELECT DISTINCT h.hider_id FROM user_hides h`;
  await sql`
    UPDATE users u SET requests_received_count = (
      SELECT count(*) FROM connection_requests r WHERE r.to_user_id = u.id AND ${rule})
    WHERE u.id IN (${touched})`.execute(db);
  await sql`DELETE FROM connection_request_days WHERE to_user_id IN (${touched})`.execute(db);
  await sql`
    INSERT INTO connection_request_days (to_user_id, day, pending)
    SELECT r.to_user_id, kith_request_day(r.created), count(*)
    FROM connection_requests r WHERE r.to_user_id IN (${touched}) AND ${rule} GROUP BY 1, 2`.execute(db);
}
