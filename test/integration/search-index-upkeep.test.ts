import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { World } from '../helpers/world.js';

/**
 * Migration 0021: members' pages keep room for the versions updates make (so a counter's update
 * touches no index), and the trigram index takes its entries straight in, so a search never reads
 * a pending list of them (0023's index of both names too).
 */

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

test('users keeps a tenth of each page free; the trigram index has no pending list', async () => {
  const { rows } = await sql<{ table: string[] | null; index: string[] | null }>`
    SELECT (SELECT reloptions FROM pg_class WHERE oid = 'users'::regclass) AS table,
           (SELECT reloptions FROM pg_class WHERE oid = 'users_search_names_trgm_idx'::regclass) AS index
  `.execute(world.db);
  assert.deepEqual(rows[0]?.table, ['fillfactor=90']);
  assert.deepEqual(rows[0]?.index, ['fastupdate=off']);
  const { rows: old } = await sql<{ gone: boolean }>`
    SELECT to_regclass('users_search_trgm_idx') IS NULL AS gone`.execute(world.db);
  assert.equal(old[0]?.gone, true, "0012's index of one column per name, replaced by 0023's");
});

test('renamed members and new ones leave nothing pending in the trigram index, and are found at once', async () => {
  const members = [];
  for (let i = 0; i < 40; i++) members.push(await world.user({ real_name: `Upkeep ${i}` }));
  // A new name is a change of the indexed columns: never a HOT update, always new index entries.
  await sql`UPDATE users SET real_name = 'Renamed ' || real_name WHERE id = ANY(${members.map((m) => m.id)}::int[])`.execute(
    world.db,
  );
  const { rows } = await sql<{ pages: number }>`
    SELECT gin_clean_pending_list('users_search_names_trgm_idx'::regclass)::int AS pages`.execute(world.db);
  assert.equal(rows[0]?.pages, 0, 'pages of pending entries a search would have read');

  const me = await world.tokenFor(members[0]!.id);
  const page = await world.get('/api/v2/user/search/?user=renamed%20upkeep%2017&limit=5', me);
  assert.equal(page.status, 200, page.text);
  assert.deepEqual(
    page.body.results.map((u: { id: number }) => u.id),
    [members[17]!.id],
  );
});
