import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { queryCounter } from '../../src/db/database.js';
import { applyPairWrites, loadPair } from '../../src/db/repositories/pairs.js';
import { pairStateOf, plan } from '../../src/domain/connection-state.js';
import { type Admit, act, moveConflicts } from '../../src/services/connections.js';
import { pairWrites } from '../../src/services/effects.js';
import { checkGraph } from '../../src/services/graph-check.js';
import { type Member, ok, someoneWaitsForALock, World } from '../helpers/world.js';

/**
 * A move of a pair is optimistic (services/connections.ts, `movePair`): the pair loaded without
 * locks, then one statement that locks both members and writes the plan only if neither member's
 * row changed since; when one did, nothing is written and the move is made again under the locks.
 */
let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const admitAll: Admit = async () => {};
const noLimits = { maxPendingRequests: 0 };

/** The pair's requests, either way, and the members' request counters as stored. */
async function pairRows(a: Member, b: Member) {
  const requests = await world.db
    .selectFrom('connection_requests')
    .select(['from_user_id', 'to_user_id'])
    .where((eb) =>
      eb.or([
        eb.and([eb('from_user_id', '=', a.id), eb('to_user_id', '=', b.id)]),
        eb.and([eb('from_user_id', '=', b.id), eb('to_user_id', '=', a.id)]),
      ]),
    )
    .execute();
  const counters = await world.db
    .selectFrom('users')
    .select(['id', 'requests_sent_count', 'requests_received_count'])
    .where('id', 'in', [a.id, b.id])
    .orderBy('id')
    .execute();
  return { requests, counters };
}

async function graphIsClean() {
  const check = await checkGraph(world.db);
  assert.deepEqual(
    check.invariants.filter((i) => i.violations > 0),
    [],
  );
}

/** The events a member's moves wrote, by type. */
async function eventsFrom(member: Member) {
  const rows = await world.db
    .selectFrom('events')
    .select(['type', 'to_user_id'])
    .where('from_user_id', '=', member.id)
    .orderBy('id')
    .execute();
  return rows.map((r) => `${r.type}→${r.to_user_id}`);
}

test("a move's write, after a load without locks, writes nothing once either member's row changed", async () => {
  const [a, b, c] = [await world.user(), await world.user(), await world.user()];
  const loaded = await loadPair(world.db, a.id, b.id);
  assert.equal(loaded.underLocks, false);
  assert.deepEqual([...loaded.versions.keys()].sort(), [a.id, b.id].sort());
  const decided = plan(pairStateOf(a.id, loaded), 'request', { me: a.id, them: b.id }, loaded.hides);
  assert.ok(decided.ok);
  const writes = pairWrites(decided.effects, { me: a.id, them: b.id, locked: loaded });

  // Another member's move changes a's row (a's received count) after the load.
  await ok(world.request('POST', `/api/v2/user/${a.id}/connection/request/`, { token: c.token }));
  const before = await pairRows(a, b);
  assert.equal(await applyPairWrites(world.db, writes, loaded.versions), false);
  assert.deepEqual(await pairRows(a, b), before, 'nothing written');
  assert.deepEqual(await eventsFrom(a), [], 'no event either');

  // Loaded again, the same plan's write goes through, with the counters as they are now.
  const again = await loadPair(world.db, a.id, b.id);
  const replanned = plan(pairStateOf(a.id, again), 'request', { me: a.id, them: b.id }, again.hides);
  assert.ok(replanned.ok);
  assert.equal(
    await applyPairWrites(
      world.db,
      pairWrites(replanned.effects, { me: a.id, them: b.id, locked: again }),
      again.versions,
    ),
    true,
  );
  const written = await pairRows(a, b);
  assert.deepEqual(written.requests, [{ from_user_id: a.id, to_user_id: b.id }]);
  assert.deepEqual(
    written.counters.find((row) => row.id === a.id),
    { id: a.id, requests_sent_count: 1, requests_received_count: 1 },
  );
  assert.deepEqual(await eventsFrom(a), [`connection_request.created→${b.id}`]);
  await graphIsClean();
});

test('a move whose pair changed between its load and its write is made again under the locks, once', async () => {
  const [a, b, c] = [await world.user(), await world.user(), await world.user()];
  let admitted = 0;
  // The gate runs between the load and the write: the first time, c's request to a commits there.
  const admit: Admit = async () => {
    admitted += 1;
    if (admitted === 1) await act(world.db, c.id, a.id, 'request', noLimits, admitAll);
  };
  const scope = { count: 0 };
  const conflicts = moveConflicts.count;
  const status = await queryCounter.run(scope, () => act(world.db, a.id, b.id, 'request', noLimits, admit));
  assert.equal(status, 'sent_connection_request');
  assert.equal(moveConflicts.count, conflicts + 1);
  // Operators see it: /metrics counts the moves made again.
  const metrics = await world.request('GET', '/metrics');
  assert.equal(Number(/^kith_pair_move_conflicts_total (\d+)$/m.exec(metrics.text)?.[1]), moveConflicts.count);
  assert.equal(admitted, 2, 'the gate decided again on the pair as locked');
  // Load and write that wrote nothing (2), c's move (2), then BEGIN, lock and load, write, COMMIT.
  assert.equal(scope.count, 8);
  const { requests, counters } = await pairRows(a, b);
  assert.deepEqual(requests, [{ from_user_id: a.id, to_user_id: b.id }]);
  assert.deepEqual(
    counters.find((row) => row.id === a.id),
    { id: a.id, requests_sent_count: 1, requests_received_count: 1 },
  );
  assert.deepEqual(
    await eventsFrom(a),
    [`connection_request.created→${b.id}`],
    'one event: the first write wrote none',
  );
  const notifications = await world.db
    .selectFrom('notifications')
    .select('actor_id')
    .where('user_id', '=', b.id)
    .execute();
  assert.deepEqual(notifications, [{ actor_id: a.id }]);
  await graphIsClean();
});

describe('a change committed while the write waits', {
  skip: process.env.DATABASE_URL ? false : 'two transactions at once need PostgreSQL',
}, () => {
  test("is seen by the write's locks, in its newest version: nothing written, the move made again", async () => {
    const [a, b, c] = [await world.user(), await world.user(), await world.user()];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // c's request to a, by hand, as a move would write it: a's row changed and locked until released.
    const other = world.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO connection_requests (from_user_id, to_user_id) VALUES (${c.id}, ${a.id})`.execute(tx);
      await sql`UPDATE users SET requests_received_count = requests_received_count + 1 WHERE id = ${a.id}`.execute(tx);
      await sql`UPDATE users SET requests_sent_count = requests_sent_count + 1 WHERE id = ${c.id}`.execute(tx);
      holding();
      await released;
    });
    await held;
    const scope = { count: 0 };
    // The load does not wait (a's row as last committed); the write waits for a's lock.
    const moving = queryCounter.run(scope, () => act(world.db, a.id, b.id, 'request', noLimits, admitAll));
    await someoneWaitsForALock(world.db);
    release();
    await other;
    assert.equal(await moving, 'sent_connection_request');
    assert.equal(scope.count, 6, 'load, a write that wrote nothing, then the move under the locks (4)');
    const { requests, counters } = await pairRows(a, b);
    assert.deepEqual(requests, [{ from_user_id: a.id, to_user_id: b.id }]);
    assert.deepEqual(
      counters.find((row) => row.id === a.id),
      { id: a.id, requests_sent_count: 1, requests_received_count: 1 },
      "c's request counted, and a's own",
    );
    await graphIsClean();
  });
});
