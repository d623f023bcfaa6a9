import { type Kysely, sql } from 'kysely';

/**
 * A member's graph version is bumped once per move, not once per statement that touches them.
 *
 * Migration 0016's relation triggers bump both members of every request, connection, follow and
 * hide row changed, by an UPDATE of `users` of their own after the statement: for an accept, two
 * more UPDATEs of the two members' rows (the request deleted, the connection inserted), each with
 * its row triggers and its NOTIFY trigger, on top of the move's own update of the same rows (their
 * counters), which bumps them already. A move's statement (`applyPairWrites`) now takes both
 * members' new version itself and names them in `kith.bumped` (a setting local to the
 * transaction); the relation triggers leave out the members named there. A withdrawal's pairs go
 * through that statement too; a writer that does not (the retention job, a deletion's removal of
 * hides, SQL by hand) names nobody, and its members are bumped as before.
 *
 * One bump per transaction is enough: a tag compares versions for equality, every version comes
 * from one sequence, and no reader sees a transaction's state before its commit. A name stays in
 * `kith.bumped` until the transaction ends (or its savepoint is rolled back, with the bump).
 */
const RELATIONS = [
  ['connection_requests', 'from_user_id', 'to_user_id'],
  ['connections', 'user_id', 'friend_id'],
  ['follows', 'follower_id', 'followed_id'],
  ['user_hides', 'hider_id', 'hidden_id'],
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [table, a, b] of RELATIONS) {
    await sql`
      CREATE OR REPLACE FUNCTION ${sql.raw(`kith_bump_${table}`)}() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        bumped int[] := coalesce(string_to_array(nullif(current_setting('kith.bumped', true), ''), ',')::int[], '{}');
      BEGIN
        IF current_setting('kith.bulk_load', true) = 'on' THEN
          RETURN NULL;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM changed c WHERE c.${sql.raw(a)} <> ALL(bumped) OR c.${sql.raw(b)} <> ALL(bumped)) THEN
          RETURN NULL;
        END IF;
        UPDATE users SET graph_version = nextval('kith_graph_version')
        WHERE id IN (SELECT l.id FROM users l
                     WHERE l.id IN (SELECT ${sql.raw(a)} FROM changed UNION SELECT ${sql.raw(b)} FROM changed)
                       AND l.id <> ALL(bumped)
                     ORDER BY l.id FOR NO KEY UPDATE);
        RETURN NULL;
      END $$`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [table, a, b] of RELATIONS) {
    await sql`
      CREATE OR REPLACE FUNCTION ${sql.raw(`kith_bump_${table}`)}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('kith.bulk_load', true) = 'on' THEN
          RETURN NULL;
        END IF;
        UPDATE users SET graph_version = nextval('kith_graph_version')
        WHERE id IN (SELECT l.id FROM users l
                     WHERE l.id IN (SELECT ${sql.raw(a)} FROM changed UNION SELECT ${sql.raw(b)} FROM changed)
                     ORDER BY l.id FOR NO KEY UPDATE);
        RETURN NULL;
      END $$`.execute(db);
  }
}
