import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

export interface StoredPreference {
  id: number;
  section: string;
  name: string;
  value: unknown;
}

/** Inserts these rows where no row with their id exists yet (defaults never overwrite a stored value). */
export async function insertMissing(db: Executor, rows: readonly StoredPreference[]) {
  if (rows.length === 0) return;
  await db
    .insertInto('dynamic_preferences')
    .values(rows.map((row) => ({ ...row, value: JSON.stringify(row.value) })))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Every stored preference value, by name. */
export async function listStoredValues(db: Executor): Promise<Array<{ name: string; value: unknown }>> {
  return db.selectFrom('dynamic_preferences').select(['name', 'value']).execute();
}

/** Stores these values (inserting or replacing), one statement per row. */
export async function upsert(db: Executor, rows: readonly StoredPreference[]) {
  for (const row of rows) {
    await db
      .insertInto('dynamic_preferences')
      .values({ ...row, value: JSON.stringify(row.value) })
      .onConflict((oc) => oc.column('id').doUpdateSet({ value: sql`excluded.value` }))
      .execute();
  }
}
