import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { storedUserParts, USER_COLUMNS, type UserFields } from '../../contracts/user.js';
import type { DB } from '../schema.js';

type Executor = Kysely<DB>;

/**
 * The stored list JSON of users (`user_json`): written here and nowhere else, in the transaction of
 * every change to a user's row (the users repository calls `storeUserJson` with the rows its
 * statements return), and rendered again for everyone when the renderer changes.
 */

/** Stores the list JSON of these users, as `presentUser` renders them now. */
export async function storeUserJson(db: Executor, rows: readonly UserFields[]): Promise<void> {
  if (rows.length === 0) return;
  const parts = rows.map((row) => ({ user_id: row.id, ...storedUserParts(row) }));
  await db
    .insertInto('user_json')
    .values(parts)
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet((eb) => ({
        head: eb.ref('excluded.head'),
        tail: eb.ref('excluded.tail'),
        follow_head: eb.ref('excluded.follow_head'),
        follow_tail: eb.ref('excluded.follow_tail'),
      })),
    )
    .execute();
}

const BATCH = 5000;

// A fixed user with every kind of value: any change to what the renderer prints changes this hash.
const SAMPLE: UserFields = {
  id: 1,
  username: 'sample',
  real_name: 'Zoë "Q" \\ \n',
  avatar: 'https://example.org/a.png',
  ext_id: null,
  connections_count: 3,
  followers_count: 4,
  followings_count: 5,
  date_joined: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)),
  bio: 'b',
  location: 'l',
  location_lat_lng: '1,2',
  position_lat_lng: '3,4',
  date_of_birth: '1990-05-17',
  description: 'd',
  gender: 'Unspecified',
  website: 'https://example.org',
  cover: null,
  reputation: 7,
  community_badge: true,
  reg_approved: false,
  deleted: false,
  company_name: 'c',
  company_role: 'r',
};

/** Identifies the renderer: a hash of what it prints for a fixed user. */
export function rendererVersion(): string {
  const parts = storedUserParts(SAMPLE);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

const SCAN_BATCH = 20_000;

/** The md5 of the stored parts as `findStaleUserJson`'s query computes it. */
function digestOf(parts: ReturnType<typeof storedUserParts>): string {
  return createHash('md5')
    .update(`${parts.head}\n${parts.tail}\n${parts.follow_head}\n${parts.follow_tail}`)
    .digest('hex');
}

/**
 * Users whose stored list JSON differs from what the renderer prints for their row now (or is
 * missing): how many, and the first `limit` ids. With `repair`, stores their JSON again as it
 * goes (the caller's transaction keeps writers out).
 */
export async function findStaleUserJson(
  db: Executor,
  options: { limit?: number; repair?: boolean } = {},
): Promise<{ total: number; ids: number[] }> {
  const limit = options.limit ?? 0;
  const ids: number[] = [];
  let after = 0;
  let total = 0;
  for (;;) {
    const rows = await db
      .selectFrom('users as u')
      // The bound on j too: without it the merge join reads user_json from its first row in every
      // batch (quadratic: 1.2 s for the batch at the middle of 1m members, 0.25 s with it).
      .leftJoin('user_json as j', (join) => join.onRef('j.user_id', '=', 'u.id').on('j.user_id', '>', after))
      .select(USER_COLUMNS.map((c) => `u.${c}` as const))
      // A digest instead of the text: a tenth of the bytes to send (JSON text never holds a raw newline).
      .select(
        sql<string | null>`md5(j.head || E'\n' || j.tail || E'\n' || j.follow_head || E'\n' || j.follow_tail)`.as(
          'digest',
        ),
      )
      .where('u.id', '>', after)
      .orderBy('u.id')
      .limit(SCAN_BATCH)
      .execute();
    if (rows.length === 0) return { total, ids };
    const stale = rows.filter((row) => row.digest !== digestOf(storedUserParts(row)));
    total += stale.length;
    ids.push(...stale.slice(0, Math.max(0, limit - ids.length)).map((row) => row.id));
    if (options.repair) await storeUserJson(db, stale);
    after = rows.at(-1)!.id;
  }
}

/** How many users' stored list JSON differs from what the renderer prints for their row now (or is missing). */
export async function countStaleUserJson(db: Executor): Promise<number> {
  return (await findStaleUserJson(db)).total;
}

const META_KEY = 'user_json_renderer';

/**
 * Renders the stored JSON of users again, in batches by id (`fromId` up): at start when the
 * renderer changed, after the seed's bulk load, and by repairs. Returns how many users it stored.
 */
export async function renderStoredUsers(db: Executor, fromId = 0): Promise<number> {
  const batchAfter = (after: number) => {
    const rows = db
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    rows.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    return rows;
  };
  let next = batchAfter(fromId - 1);
  let stored = 0;
  for (;;) {
    const rows = await next;
    if (rows.length === 0) return stored;
    // The next batch is read while this one is rendered (JS) and stored: the two sides overlap.
    next = batchAfter(rows.at(-1)!.id);
    await storeUserJson(db, rows);
    stored += rows.length;
  }
}

/**
 * At start: when the stored text was rendered by another renderer (an upgrade changed the User
 * shape, or migration 0008 replaced the trigger), renders every user again, under a lock so that
 * several starting processes do it once. Returns how many users were rendered (0: already current).
 */
export async function ensureStoredUsersCurrent(db: Kysely<DB>): Promise<number> {
  const version = rendererVersion();
  return db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${META_KEY}))`.execute(tx);
    const row = await tx.selectFrom('kith_meta').select('value').where('key', '=', META_KEY).executeTakeFirst();
    if (row?.value === version) return 0;
    const stored = await renderStoredUsers(tx);
    await tx
      .insertInto('kith_meta')
      .values({ key: META_KEY, value: version })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: version }))
      .execute();
    return stored;
  });
}
