import { type Kysely, sql } from 'kysely';

/**
 * Writes that stay on their page, and searches that never read a pending list.
 *
 * Every connection action updates two members' counters (and their graph versions). No index has
 * those columns, so the update can be HOT — the new row version on the same page, no index touched —
 * when the page has room; the seed and signups filled `users`' pages to the brim, so about one
 * update in six or seven went to another page and put new entries in its indexes, the trigram index
 * among them (measured on the bench's 300k dataset: 35,281 of 41,810 updates HOT after two
 * write-mix runs, 36,251 of 42,042 in the next two). Pages now keep a tenth free for the versions updates make (`fillfactor`; it applies to
 * pages filled from now on: a large existing database gets it at its next `VACUUM FULL users`).
 *
 * The trigram index took those entries into its pending list (GIN's `fastupdate`), which every
 * search reads in full until a vacuum merges it: with autovacuum off the list stayed at its 4 MB
 * limit and each of the search's two trigram reads cost 2 ms instead of 0.08 (`EXPLAIN ANALYZE` of
 * a six-digit term on the 300k dataset: 4.4 ms, 0.41 after `gin_clean_pending_list`). Without the
 * list each entry goes straight into the index: a little more per member renamed or joined, nothing
 * per search. What is pending now is merged here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users SET (fillfactor = 90)`.execute(db);
  await sql`ALTER INDEX users_search_trgm_idx SET (fastupdate = off)`.execute(db);
  await sql`SELECT gin_clean_pending_list('users_search_trgm_idx'::regclass)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER INDEX users_search_trgm_idx RESET (fastupdate)`.execute(db);
  await sql`ALTER TABLE users RESET (fillfactor)`.execute(db);
}
