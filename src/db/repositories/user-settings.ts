import { type Kysely, sql } from 'kysely';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/** The settings a member has stored (the others are at their defaults). */
export async function listStored(db: Executor, userId: number): Promise<Array<{ name: string; value: unknown }>> {
  return db.selectFrom('user_settings').select(['name', 'value']).where('user_id', '=', userId).execute();
}

/** Stores the given settings of one member in one statement. */
export async function store(db: Executor, userId: number, values: ReadonlyArray<{ name: string; value: unknown }>) {
  if (values.length === 0) return;
  await db
    .insertInto('user_settings')
    .values(values.map(({ name, value }) => ({ user_id: userId, name, value: JSON.stringify(value) })))
    .onConflict((oc) =>
      oc.columns(['user_id', 'name']).doUpdateSet({ value: sql`excluded.value`, updated: sql`now()` }),
    )
    .execute();
}

/** Deletes every stored setting of a member (a deleted member's). */
export async function deleteAllOf(db: Executor, userId: number) {
  await db.deleteFrom('user_settings').where('user_id', '=', userId).execute();
}
