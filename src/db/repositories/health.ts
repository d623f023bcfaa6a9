import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema.js';

/** The cheapest statement the database must answer. */
export async function ping(db: Kysely<DB>) {
  await sql`SELECT 1`.execute(db);
}
