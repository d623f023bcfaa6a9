import { type Kysely, sql } from 'kysely';

/**
 * Every change of what a tagged answer derives from (migration 0016's versions, and the community
 * settings) is announced on `kith_versions` (contracts/channels.ts) in the writing transaction, so
 * every process hears of it on commit and drops what its tag cache (http/tag-cache.ts) remembered
 * about those members.
 *
 * Statement-level triggers, one NOTIFY per statement whatever its row count: the payload is the
 * changed members' ids, comma-separated, or `*` (forget everything) for the community settings, a
 * bulk load, and statements of more than 500 rows (NOTIFY payloads are at most 8000 bytes). No code
 * path can forget one: the relations' own triggers (0016) bump their members through `users`.
 * PostgreSQL folds identical payloads of one transaction into one notification.
 */
const MAX_IDS = 500;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [table, key] of [
    ['users', 'id'],
    ['user_json', 'user_id'],
  ] as const) {
    await sql`
      CREATE FUNCTION ${sql.raw(`kith_notify_${table}`)}() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        ids text;
        n int;
      BEGIN
        IF current_setting('kith.bulk_load', true) = 'on' THEN
          PERFORM pg_notify('kith_versions', '*');
          RETURN NULL;
        END IF;
        SELECT count(*), string_agg(c.${sql.raw(key)}::text, ',') INTO n, ids
        FROM (SELECT ${sql.raw(key)} FROM changed LIMIT ${sql.raw(String(MAX_IDS + 1))}) c;
        IF n > ${sql.raw(String(MAX_IDS))} THEN
          PERFORM pg_notify('kith_versions', '*');
        ELSIF n > 0 THEN
          PERFORM pg_notify('kith_versions', ids);
        END IF;
        RETURN NULL;
      END $$`.execute(db);
    // A new member is in nobody's remembered answer yet: updates and deletes only.
    for (const event of ['UPDATE', 'DELETE'] as const) {
      const changed = event === 'DELETE' ? 'OLD' : 'NEW';
      await sql`
        CREATE TRIGGER ${sql.raw(`${table}_notify_${event.toLowerCase()}`)}
          AFTER ${sql.raw(event)} ON ${sql.raw(table)} REFERENCING ${sql.raw(changed)} TABLE AS changed
          FOR EACH STATEMENT EXECUTE FUNCTION ${sql.raw(`kith_notify_${table}`)}()`.execute(db);
    }
  }
  await sql`
    CREATE FUNCTION kith_notify_preferences() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('kith_versions', '*');
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER dynamic_preferences_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dynamic_preferences
      FOR EACH STATEMENT EXECUTE FUNCTION kith_notify_preferences()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER dynamic_preferences_notify ON dynamic_preferences`.execute(db);
  await sql`DROP FUNCTION kith_notify_preferences()`.execute(db);
  for (const table of ['users', 'user_json']) {
    for (const event of ['update', 'delete']) {
      await sql`DROP TRIGGER ${sql.raw(`${table}_notify_${event}`)} ON ${sql.raw(table)}`.execute(db);
    }
    await sql`DROP FUNCTION ${sql.raw(`kith_notify_${table}`)}()`.execute(db);
  }
}
