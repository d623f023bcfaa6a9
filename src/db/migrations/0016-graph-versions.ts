import { type Kysely, sql } from 'kysely';

/**
 * What a list's ETag is derived from (http/etag.ts): versions from one global sequence, so that a
 * version never repeats and the max over a page rises with any change of any of its items.
 *
 * - `users.graph_version`: bumped in the transaction of anything that can change what the member's
 *   lists hold or the statuses they see. A BEFORE UPDATE trigger on `users` takes a new version
 *   whenever any other column of the row changes (counters, profile, role, activity, block), in
 *   the same tuple write, so no code path can forget it. The relations' rows (requests, connections,
 *   follows, hides) bump both members by statement-level triggers, for the changes that touch no
 *   counter (a request marked viewed, a rejected request cancelled, a hide with no request): one
 *   UPDATE per statement, whatever the number of rows (a withdrawal, the retention job), the rows
 *   locked in id order as every writer locks pairs. A bulk load of members written in the same
 *   load (the seed) sets `kith.bulk_load` for its transaction instead: their rows are new or their
 *   counters change, which the users trigger sees.
 * - `user_json.json_version`: a new version whenever the stored list JSON changes text (a counter it
 *   shows, the profile, a renderer upgrade). A member who connects changes every list that holds
 *   them, and those lists see it as a higher max(json_version) over their page: no fan-out write.
 *
 * The covering index lets a page's ETag read each item's version from the index alone.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE SEQUENCE kith_graph_version`.execute(db);
  // A constant default adds the column without rewriting the table (a volatile one, nextval, would
  // rewrite users and user_json under an exclusive lock: minutes at a million members). Every row
  // starting at version 0 is right: a version only has to differ from the one before a change, and
  // every change takes the next value of the sequence. New rows take it too.
  for (const [table, column] of [
    ['users', 'graph_version'],
    ['user_json', 'json_version'],
  ] as const) {
    await sql`ALTER TABLE ${sql.raw(table)} ADD COLUMN ${sql.raw(column)} bigint NOT NULL DEFAULT 0`.execute(db);
    await sql`ALTER TABLE ${sql.raw(table)} ALTER COLUMN ${sql.raw(column)} SET DEFAULT nextval('kith_graph_version')`.execute(
      db,
    );
  }
  await sql`CREATE UNIQUE INDEX user_json_versions_idx ON user_json (user_id) INCLUDE (json_version)`.execute(db);

  await sql`
    CREATE FUNCTION kith_user_graph_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.graph_version = OLD.graph_version AND NEW IS DISTINCT FROM OLD THEN
        NEW.graph_version := nextval('kith_graph_version');
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER users_graph_version BEFORE UPDATE ON users
      FOR EACH ROW EXECUTE FUNCTION kith_user_graph_version()`.execute(db);

  await sql`
    CREATE FUNCTION kith_user_json_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.head, NEW.tail, NEW.follow_head, NEW.follow_tail)
         IS DISTINCT FROM (OLD.head, OLD.tail, OLD.follow_head, OLD.follow_tail) THEN
        NEW.json_version := nextval('kith_graph_version');
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER user_json_version BEFORE UPDATE ON user_json
      FOR EACH ROW EXECUTE FUNCTION kith_user_json_version()`.execute(db);

  for (const [table, a, b] of RELATIONS) {
    await sql`
      CREATE FUNCTION ${sql.raw(`kith_bump_${table}`)}() RETURNS trigger LANGUAGE plpgsql AS $$
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
    for (const event of ['INSERT', 'UPDATE', 'DELETE'] as const) {
      const changed = event === 'DELETE' ? 'OLD' : 'NEW';
      await sql`
        CREATE TRIGGER ${sql.raw(`${table}_graph_version_${event.toLowerCase()}`)}
          AFTER ${sql.raw(event)} ON ${sql.raw(table)} REFERENCING ${sql.raw(changed)} TABLE AS changed
          FOR EACH STATEMENT EXECUTE FUNCTION ${sql.raw(`kith_bump_${table}`)}()`.execute(db);
    }
  }
}

/** Each relation's table and the two columns naming its members. */
const RELATIONS = [
  ['connection_requests', 'from_user_id', 'to_user_id'],
  ['connections', 'user_id', 'friend_id'],
  ['follows', 'follower_id', 'followed_id'],
  ['user_hides', 'hider_id', 'hidden_id'],
] as const;

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [table] of RELATIONS) {
    for (const event of ['insert', 'update', 'delete']) {
      await sql`DROP TRIGGER ${sql.raw(`${table}_graph_version_${event}`)} ON ${sql.raw(table)}`.execute(db);
    }
    await sql`DROP FUNCTION ${sql.raw(`kith_bump_${table}`)}()`.execute(db);
  }
  await sql`DROP TRIGGER user_json_version ON user_json`.execute(db);
  await sql`DROP FUNCTION kith_user_json_version()`.execute(db);
  await sql`DROP TRIGGER users_graph_version ON users`.execute(db);
  await sql`DROP FUNCTION kith_user_graph_version()`.execute(db);
  await sql`DROP INDEX user_json_versions_idx`.execute(db);
  await sql`ALTER TABLE user_json DROP COLUMN json_version`.execute(db);
  await sql`ALTER TABLE users DROP COLUMN graph_version`.execute(db);
  await sql`DROP SEQUENCE kith_graph_version`.execute(db);
}
