import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { seedCommunity } from '../../src/db/seed.js';
import { World } from '../helpers/world.js';

/**
 * The seed's bulk load (used from 20,000 members: secondary indexes and foreign keys dropped, the
 * per-day counts written in key order without ON CONFLICT, the stored JSON read ahead while the
 * previous batch is written) makes the very rows the plain load makes, and leaves the schema as
 * it found it.
 */

let plain: World;
let bulk: World;
before(async () => {
  [plain, bulk] = await Promise.all([World.start(), World.start()]);
});
after(() => Promise.all([plain.close(), bulk.close()]));

const TABLES = {
  users:
    'SELECT id, username, real_name, connections_count, requests_sent_count, requests_received_count, followers_count, followings_count FROM users',
  // The administrator (id 1) joined when its database was made: only the seeded members compare.
  user_json: 'SELECT * FROM user_json WHERE user_id > 1',
  connections: 'SELECT * FROM connections',
  connection_requests: 'SELECT from_user_id, to_user_id, created, rejected, viewed, withheld FROM connection_requests',
  connection_request_days: 'SELECT * FROM connection_request_days',
  follows: 'SELECT * FROM follows',
  follow_days: 'SELECT * FROM follow_days',
};

/** Each table's rows as one digest (order-independent) and count. */
async function contents(db: Database) {
  const out: Record<string, { n: number; digest: string }> = {};
  for (const [name, select] of Object.entries(TABLES)) {
    const { rows } = await sql<{ n: number; digest: string }>`
      SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
      FROM (${sql.raw(select)}) t`.execute(db);
    out[name] = rows[0]!;
  }
  return out;
}

/** The indexes and constraints of the seeded tables, by name and definition. */
async function schema(db: Database) {
  const { rows } = await sql<{ what: string }>`
    SELECT c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) AS what
    FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(${Object.keys(TABLES)})
    UNION ALL
    SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid::regclass::text = ANY(${Object.keys(TABLES)})
    ORDER BY 1`.execute(db);
  return rows.map((r) => r.what);
}

test('the bulk load makes the same community as the plain load, checked clean, schema restored', async () => {
  const options = { users: 300, celebrityRequests: 120, celebrityFollowers: 90, seed: 3 };
  const schemaBefore = await schema(bulk.db);
  const [a, b] = await Promise.all([
    seedCommunity(plain.db, { ...options, bulk: false }),
    seedCommunity(bulk.db, { ...options, bulk: true }),
  ]);
  // Every invariant kith check knows holds: no counter, day count, stored JSON or withheld flag is off.
  for (const check of [a.check, b.check])
    assert.deepEqual(
      Object.entries(check).filter(([, wrong]) => wrong !== 0),
      [],
    );
  assert.ok(Object.keys(a.check).length >= 7);
  assert.deepEqual(b.rows, a.rows);
  const [plainRows, bulkRows] = await Promise.all([contents(plain.db), contents(bulk.db)]);
  assert.ok(plainRows.connection_request_days!.n > 0 && plainRows.follow_days!.n > 0);
  assert.equal(plainRows.user_json!.n, 300);
  assert.deepEqual(bulkRows, plainRows);
  assert.deepEqual(await schema(bulk.db), schemaBefore);
});
