import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { walkInIdOrder } from '../../src/db/repositories/people.js';
import { renderStoredUsers } from '../../src/db/repositories/user-json.js';
import { World } from '../helpers/world.js';

/**
 * A community whose names all share a word (`member_<n>`, as seeded communities and generated
 * usernames are): the trigram index is asked for the term without that word (`distinctivePart`), and
 * the whole term is still checked on every row. The answers must be exactly those of the whole term.
 * With 600 members a term in most names is read by walking the members in id order and a rarer one
 * by the indexes (`walkInIdOrder`): both ways are asked here.
 */

let world: World;
const byName = new Map<string, number>();
before(async () => {
  world = await World.start();
  const names = [
    ...Array.from({ length: 600 }, (_, i) => `member_${i + 1}`),
    'other_12',
    'membe_12x',
    'xmember_125',
    'member12',
  ];
  for (const username of names) {
    const real_name = username.startsWith('member_') ? `Member ${username.slice(7)}` : '';
    const row = await world.user({ username, real_name });
    byName.set(username, row.id);
  }
  await renderStoredUsers(world.db);
  // What the planner and the search read of the names: the sampled histograms.
  await sql`ANALYZE users`.execute(world.db);
});
after(() => world.close());

async function usernames(term: string, limit = 100) {
  const me = await world.tokenFor(byName.get('member_1')!);
  const page = await world.get(`/api/v2/user/search/?user=${encodeURIComponent(term)}&limit=${limit}`, me);
  assert.equal(page.status, 200, page.text);
  return { count: page.body.count as number, names: page.body.results.map((u: { username: string }) => u.username) };
}

/** Every name containing `part` (case-insensitively), in the order the search ranks them. */
function containing(part: string, names: Iterable<string>) {
  return [...names].filter((n) => n.toLowerCase().includes(part.toLowerCase()));
}

test('the histogram makes "member" common here, and the search still answers the whole term', async () => {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'users_search_username_idx' AND histogram_bounds IS NOT NULL`.execute(
    world.db,
  );
  assert.equal(rows[0]?.n, 1, 'the name index has a histogram');
  const sample = await sql<{ names: string[]; members: number }>`
    SELECT (SELECT array_agg(n) FROM pg_stats, unnest(histogram_bounds::text::text[]) n
            WHERE tablename IN ('users_search_username_idx', 'users_search_real_name_idx')) AS names,
           (SELECT reltuples FROM pg_class WHERE relname = 'users')::float8 AS members`.execute(world.db);
  const { names, members } = sample.rows[0]!;
  assert.equal(walkInIdOrder('member', { names, members }), true, 'a term in every name: the id walk');
  assert.equal(walkInIdOrder('ember_12', { names, members }), false, 'the indexes');

  // Username prefix matches, exact first, in byte order; then xmember_125 (a match inside the name).
  const twelve = await usernames('member_12');
  const prefixed = containing('member_12', byName.keys())
    .filter((n) => n.startsWith('member_12'))
    .sort();
  assert.deepEqual(twelve.names, [...prefixed, 'xmember_125']);
  assert.equal(twelve.count, prefixed.length + 1);

  // No username starts with it: every member whose name contains it, none that has only "_12".
  const inside = await usernames('ember_12');
  assert.deepEqual(inside.names.sort(), containing('ember_12', byName.keys()).sort());
  assert.ok(!inside.names.includes('other_12') && !inside.names.includes('membe_12x'));

  // A trailing common word: "12_member" is in nobody's name.
  assert.deepEqual((await usernames('12_member')).names, []);
  // Only common words: every name has them; the count stops at the members there are.
  const all = await usernames('member', 5);
  assert.equal(all.count, containing('member', byName.keys()).length);
  assert.deepEqual(all.names, ['member12', 'member_1', 'member_10', 'member_100', 'member_101']);
  // A real name with the common word: "Member 12" and those starting so, by username.
  const real = await usernames('Member 12', 3);
  assert.deepEqual(real.names, ['member_12', 'member_120', 'member_121']);
});
