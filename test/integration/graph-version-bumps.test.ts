import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { World } from '../helpers/world.js';

/**
 * Migration 0022: a relation's row changed by any writer bumps both members' graph versions, but
 * for the members a move's own statement named in `kith.bumped` (it took their new versions
 * already); a move bumps each of its two members once.
 */

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const versions = async (ids: number[]) => {
  const { rows } = await sql<{ id: number; v: string }>`
    SELECT id, graph_version::text AS v FROM users WHERE id = ANY(${ids}::int[]) ORDER BY id`.execute(world.db);
  return new Map(rows.map((r) => [r.id, BigInt(r.v)]));
};

test('a relation changed by SQL bumps both members, but for those named in kith.bumped', async () => {
  const [a, b, c] = [await world.user(), await world.user(), await world.user()];
  const ids = [a.id, b.id, c.id];
  const before = await versions(ids);

  await sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${a.id}, ${b.id})`.execute(world.db);
  const plain = await versions(ids);
  assert.ok(plain.get(a.id)! > before.get(a.id)! && plain.get(b.id)! > before.get(b.id)!, 'both bumped');
  assert.equal(plain.get(c.id), before.get(c.id));

  await world.db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('kith.bumped', ${`${a.id},${b.id}`}, true)`.execute(tx);
    await sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${a.id}, ${c.id}), (${b.id}, ${a.id})`.execute(tx);
  });
  const named = await versions(ids);
  assert.equal(named.get(a.id), plain.get(a.id), 'named: left as it was');
  assert.equal(named.get(b.id), plain.get(b.id), 'named: left as it was');
  assert.ok(named.get(c.id)! > plain.get(c.id)!, 'not named: bumped');

  // The setting ended with its transaction.
  await sql`DELETE FROM user_hides WHERE hider_id = ${a.id} AND hidden_id = ${c.id}`.execute(world.db);
  const after = await versions(ids);
  assert.ok(after.get(a.id)! > named.get(a.id)!);
});

test('a move bumps both members in its own statement, and the request it writes bumps nobody again', async () => {
  const [a, b] = [await world.user(), await world.user()];
  const token = await world.tokenFor(a.id);
  const taken = async () =>
    BigInt(
      (await sql<{ v: string }>`SELECT last_value::text AS v FROM kith_graph_version`.execute(world.db)).rows[0]!.v,
    );
  const before = await versions([a.id, b.id]);
  const first = await taken();
  const sent = await world.act(token, b.id, 'request');
  assert.ok(sent.status < 300, sent.text);
  // A request changes neither member's list JSON: the only versions taken are the two members'.
  assert.equal((await taken()) - first, 2n, 'two versions: one each (before 0022: four)');
  const now = await versions([a.id, b.id]);
  assert.ok(now.get(a.id)! > before.get(a.id)! && now.get(b.id)! > before.get(b.id)!);
});
