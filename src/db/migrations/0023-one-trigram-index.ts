import { type Kysely, sql } from 'kysely';

/**
 * One trigram list per trigram for a search in both names, instead of one per name.
 *
 * Migration 0012's trigram index had the two folded names as two columns: a term looked for in both
 * (`user=`, `search=`, autocomplete) was two index scans, each reading the posting lists of the term's
 * trigrams in its column, OR-ed in a bitmap. Names often share their parts (the seed's `member_134567`
 * and `Member 134567`, or `jsmith` and `John Smith`), so most members were read twice, and the
 * lists grow with the community: the bench's six-digit term cost 24% more PostgreSQL CPU at a million
 * members than at 300,000. The index now has one expression, both names folded together
 * (`kith_fold(username || ' ' || real_name)`): a member is one entry per trigram, whichever name has
 * it. Containing the term there is implied by containing it in either name, so the search asks the
 * index for that and checks the names themselves on what it returns (src/db/repositories/people.ts);
 * pg_trgm splits words at the space, so the join makes no trigram of its own. Built like 0021 left
 * its predecessor: entries straight in, no pending list.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX users_search_names_trgm_idx ON users
    USING gin (kith_fold(username || ' ' || real_name) gin_trgm_ops) WITH (fastupdate = off)`.execute(db);
  await sql`DROP INDEX users_search_trgm_idx`.execute(db);
  // The planner's statistics of the new expression (see 0012).
  await sql`ANALYZE users`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX users_search_trgm_idx ON users
    USING gin (kith_fold(username) gin_trgm_ops, kith_fold(real_name) gin_trgm_ops)
    WITH (fastupdate = off)`.execute(db);
  await sql`DROP INDEX users_search_names_trgm_idx`.execute(db);
}
