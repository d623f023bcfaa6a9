import { type Kysely, sql } from 'kysely';

/**
 * Two pieces that make the request lists cost the same at any size and depth.
 *
 * kith_user_json(user, status): the User object of the API as JSON text, byte for byte what
 * JSON.stringify(presentUser(row, status)) prints (same keys, same order, dates as ISO-8601 UTC with
 * milliseconds). Lists build their page as text in PostgreSQL and Node sends it unparsed; a test
 * compares the two outputs byte for byte. It is PL/pgSQL on purpose: a SQL function would be inlined
 * into every query that calls it, and planning that expression costs more than running it
 * (measured: 3× the statement's time with -M extended); PL/pgSQL plans it once per session.
 *
 * Pending requests to each user, counted per UTC day of `created`: a two-level order-statistic
 * index over connection_requests_received_idx. A page at offset k of a list of 500,000 finds its
 * day by summing a few hundred counts, then skips fewer than one day's rows in the index, instead
 * of walking k index entries. A trigger keeps the counts in the writer's transaction, so a reader
 * sees counts and rows from one snapshot.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION kith_iso(t timestamptz) RETURNS text
      LANGUAGE sql STABLE PARALLEL SAFE
      RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.execute(db);

  await sql`
    CREATE FUNCTION kith_user_json(u users, status text) RETURNS text
      LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
    BEGIN
      RETURN '{"id":' || u.id
        || ',"username":' || to_json(u.username)
        || ',"real_name":' || to_json(u.real_name)
        || ',"avatar":' || coalesce(to_json(u.avatar)::text, 'null')
        || ',"ext_id":' || coalesce(to_json(u.ext_id)::text, 'null')
        || ',"followings_counter":null,"followers_counter":null,"posts_counter":null,"discussions_counter":null'
        || ',"polls_counter":null,"connection_status":' || coalesce(to_json(status)::text, 'null')
        || ',"categories_counter":null,"connections_counter":' || u.connections_count
        || ',"date_joined":"' || to_char(u.date_joined AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        || '","bio":' || to_json(u.bio)
        || ',"location":' || to_json(u.location)
        || ',"location_lat_lng":' || to_json(u.location_lat_lng)
        || ',"position_lat_lng":' || to_json(u.position_lat_lng)
        || ',"date_of_birth":' || coalesce('"' || to_char(u.date_of_birth, 'YYYY-MM-DD') || '"', 'null')
        || ',"description":' || to_json(u.description)
        || ',"gender":' || to_json(u.gender)
        || ',"website":' || to_json(u.website)
        || ',"cover":' || coalesce(to_json(u.cover)::text, 'null')
        || ',"tags":[],"reputation":' || u.reputation
        || ',"community_badge":' || u.community_badge::text
        || ',"reg_approved":' || u.reg_approved::text
        || ',"deleted":' || u.deleted::text
        || ',"company_name":' || to_json(u.company_name)
        || ',"company_role":' || to_json(u.company_role)
        || '}';
    END $$`.execute(db);

  await sql`
    CREATE TABLE connection_request_days (
      to_user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      day integer NOT NULL,
      pending integer NOT NULL CHECK (pending >= 0),
      PRIMARY KEY (to_user_id, day)
    )`.execute(db);

  await sql`
    CREATE FUNCTION kith_request_day(created timestamptz) RETURNS integer
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      RETURN floor(extract(epoch FROM created) / 86400)::integer`.execute(db);

  await sql`
    CREATE FUNCTION kith_count_request_day() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.rejected IS NULL THEN
        UPDATE connection_request_days SET pending = pending - 1
          WHERE to_user_id = OLD.to_user_id AND day = kith_request_day(OLD.created);
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.rejected IS NULL THEN
        INSERT INTO connection_request_days AS d (to_user_id, day, pending)
          VALUES (NEW.to_user_id, kith_request_day(NEW.created), 1)
          ON CONFLICT (to_user_id, day) DO UPDATE SET pending = d.pending + 1;
      END IF;
      RETURN NULL;
    END $$`.execute(db);

  await sql`
    CREATE TRIGGER connection_requests_count_days
      AFTER INSERT OR DELETE OR UPDATE OF to_user_id, created, rejected ON connection_requests
      FOR EACH ROW EXECUTE FUNCTION kith_count_request_day()`.execute(db);

  await sql`
    INSERT INTO connection_request_days (to_user_id, day, pending)
    SELECT to_user_id, kith_request_day(created), count(*)
    FROM connection_requests WHERE rejected IS NULL GROUP BY 1, 2`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER connection_requests_count_days ON connection_requests`.execute(db);
  await sql`DROP FUNCTION kith_count_request_day(), kith_request_day(timestamptz)`.execute(db);
  await sql`DROP FUNCTION kith_user_json(users, text), kith_iso(timestamptz)`.execute(db);
  await sql`DROP TABLE connection_request_days`.execute(db);
}
