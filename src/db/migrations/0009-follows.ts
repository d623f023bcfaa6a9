import { type Kysely, sql } from 'kysely';

/**
 * Follow mode: one-way follows beside the friendship graph (both are kept whatever the mode; the
 * community's `follow_enabled` picks which one the API shows).
 * - follows: one row per (follower, followed), no self-follow; two covering indexes serve the
 *   followers and followings lists newest first (index-only pages and seeks, as the request lists).
 * - follow_days: followers per followed member and UTC day of the follow, kept by a trigger in the
 *   writer's transaction, so a deep offset into a celebrity's followers skips less than a day of
 *   index entries (the request lists' per-day counts, migration 0003).
 * - users: the two counters; user_json: the follow-mode text of each user (counters as integers),
 *   rendered by the application at the next start (kith_meta's renderer version changes).
 * - notifications: the `user_follow` type.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE users
      ADD COLUMN followers_count integer NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
      ADD COLUMN followings_count integer NOT NULL DEFAULT 0 CHECK (followings_count >= 0)`.execute(db);
  await sql`
    CREATE TABLE follows (
      follower_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      followed_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (follower_id, followed_id),
      CHECK (follower_id <> followed_id)
    )`.execute(db);
  await sql`CREATE INDEX follows_followers_idx ON follows (followed_id, created DESC, follower_id DESC)`.execute(db);
  await sql`CREATE INDEX follows_followings_idx ON follows (follower_id, created DESC, followed_id DESC)`.execute(db);

  await sql`
    CREATE TABLE follow_days (
      followed_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      day integer NOT NULL,
      followers integer NOT NULL CHECK (followers >= 0),
      PRIMARY KEY (followed_id, day) INCLUDE (followers)
    )`.execute(db);
  await sql`
    CREATE FUNCTION kith_count_follow_day() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE follow_days SET followers = followers - 1
          WHERE followed_id = OLD.followed_id AND day = kith_request_day(OLD.created);
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO follow_days AS d (followed_id, day, followers)
          VALUES (NEW.followed_id, kith_request_day(NEW.created), 1)
          ON CONFLICT (followed_id, day) DO UPDATE SET followers = d.followers + 1;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER follows_count_days AFTER INSERT OR DELETE OR UPDATE OF followed_id, created ON follows
      FOR EACH ROW EXECUTE FUNCTION kith_count_follow_day()`.execute(db);

  await sql`ALTER TABLE user_json ADD COLUMN follow_head text NOT NULL DEFAULT '', ADD COLUMN follow_tail text NOT NULL DEFAULT ''`.execute(
    db,
  );
  await sql`ALTER TABLE notifications DROP CONSTRAINT notifications_type_check`.execute(db);
  await sql`
    ALTER TABLE notifications ADD CONSTRAINT notifications_type_check CHECK (type IN
      ('connection_request', 'connection_accept', 'connection_cancel_request', 'connection_remove', 'user_follow'))`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM notifications WHERE type = 'user_follow'`.execute(db);
  await sql`ALTER TABLE notifications DROP CONSTRAINT notifications_type_check`.execute(db);
  await sql`
    ALTER TABLE notifications ADD CONSTRAINT notifications_type_check CHECK (type IN
      ('connection_request', 'connection_accept', 'connection_cancel_request', 'connection_remove'))`.execute(db);
  await sql`ALTER TABLE user_json DROP COLUMN follow_head, DROP COLUMN follow_tail`.execute(db);
  await sql`DROP TABLE follow_days`.execute(db);
  await sql`DROP TABLE follows`.execute(db);
  await sql`DROP FUNCTION kith_count_follow_day()`.execute(db);
  await sql`ALTER TABLE users DROP COLUMN followers_count, DROP COLUMN followings_count`.execute(db);
}
