import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkGraph } from '../../src/services/graph-check.js';
import { expectedFollowLists, expectedLists, runFollowStress, runStress, type Send } from '../helpers/stress.js';
import { type Member, World } from '../helpers/world.js';

// 64 clients, 50 hot members, every action and read over real HTTP, checked against the domain's
// tables as it runs; afterwards kith check is clean and every list and counter equals the model.
// Two runs: friendship mode (every connection action and the hide toggle), then follow mode on 50
// other members (follow and hide toggles), a quarter of the size. Bounded: 20,000 + 5,000
// operations on PostgreSQL, 3,000 + 750 on the embedded database (one connection). The seed is
// printed; KITH_STRESS_SEED=N replays a client's choices, KITH_STRESS_OPS=N and
// KITH_STRESS_FOLLOW_OPS=N change the sizes, KITH_STRESS_MODE=friendship|follow runs only one
// (`npm run stress` for long runs).

const postgres = process.env.DATABASE_URL !== undefined;
const OPS = Number(process.env.KITH_STRESS_OPS ?? (postgres ? 20_000 : 3_000));
const FOLLOW_OPS = Number(process.env.KITH_STRESS_FOLLOW_OPS ?? Math.ceil(OPS / 4));
const MODE = process.env.KITH_STRESS_MODE ?? 'both';
const SEED = Number(process.env.KITH_STRESS_SEED ?? Math.floor(Math.random() * 1_000_000));
const CLIENTS = 64;
const MEMBERS = 50;

let world: World;
before(async () => {
  world = await World.start();
  process.stderr.write(`stress seed ${SEED}\n`);
});
after(() => world.close());

async function hotMembers() {
  const members: Member[] = [];
  for (let i = 0; i < MEMBERS; i++) members.push(await world.user());
  const tokens = new Map(members.map((m) => [m.id, m.token]));
  const send: Send = async (member, method, path) => {
    const r = await world.request(method, path, {
      token: tokens.get(member)!,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, raw: '' } : {}),
    });
    return { status: r.status, body: r.body };
  };
  return { ids: members.map((m) => m.id), tokens, send };
}

const sorted = (ids: number[]) => [...ids].sort((p, q) => p - q);
const idsOf = (items: Array<{ id: number }>) => sorted(items.map((u) => u.id));

async function graphIsClean() {
  const check = await checkGraph(world.db);
  assert.deepEqual(
    check.invariants.filter((i) => i.violations > 0),
    [],
    `kith check, seed ${SEED}`,
  );
}

if (MODE !== 'follow') {
  test(`stress with a model, friendship mode: ${OPS} operations, ${CLIENTS} clients, ${MEMBERS} hot members`, {
    timeout: Math.max(600_000, OPS * 30),
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: KITH_STRESS_SEED=${SEED})`);
    const { ids, tokens, send } = await hotMembers();
    const result = await runStress({ members: ids, clients: CLIENTS, ops: OPS, seed: SEED, send });
    t.diagnostic(JSON.stringify(result.counts));
    assert.ok(result.ops >= OPS);
    const actions = ['request', 'accept', 'reject', 'cancel_reject', 'cancel_request', 'remove', 'mark_seen', 'hide'];
    for (const action of actions) {
      assert.ok((result.counts[action] ?? 0) > OPS / 50, `${action}: ${result.counts[action]}`);
    }
    assert.deepEqual(result.serverErrors, [], `seed ${SEED}`);
    assert.deepEqual(result.inconsistent.slice(0, 10), [], `seed ${SEED}`);
    // The kinds of pair the run must have made, from either side (the two sides of a kind are one
    // code path, the ids swapped). Random pairs rarely go deep (most get one or two moves, and a
    // hide turns a rejection into a withheld request). Replayed through the model alone (no HTTP):
    // asked per side in 2,000 operations, about 4% of 2,000 seeds missed a rejected state; asked
    // from either side in 3,000 operations, none of 20,000 seeds missed any kind.
    for (const kind of ['connected', 'rejected', 'withheld']) {
      const made = [...result.reached].some((state) => state === kind || state.endsWith(`_${kind}`));
      assert.ok(made, `the run made a pair ${kind}, seed ${SEED}`);
    }

    // Quiet now: the graph's invariants, then every list and counter against the model.
    await graphIsClean();
    const lists = expectedLists(ids, result.states);
    const rows = await world.db
      .selectFrom('users')
      .select(['id', 'connections_count', 'requests_received_count', 'requests_sent_count'])
      .where('id', 'in', ids)
      .execute();
    for (const row of rows) {
      const want = lists.get(row.id)!;
      const token = tokens.get(row.id)!;
      const connections = await world.get(`/api/v2/user/${row.id}/connections/?limit=100`, token);
      const received = await world.get('/api/v2/user/connection/requests/?limit=100', token);
      const rejected = await world.get('/api/v2/user/connection/requests/?limit=100&rejected=true', token);
      const sent = await world.get('/api/v2/user/connection/requests_sent/?limit=100', token);
      const hidden = await world.get('/api/v2/user/hidden_users_id/', token);
      const member = `member ${row.id}, seed ${SEED}`;
      const from = (page: { results: Array<{ from_user: { id: number } }> }) =>
        idsOf(page.results.map((r) => r.from_user));
      assert.deepEqual(idsOf(connections.body.results), want.connections, member);
      assert.deepEqual(from(received.body), want.received, `received (withheld ones left out): ${member}`);
      assert.deepEqual(from(rejected.body), want.rejected, member);
      assert.deepEqual(
        idsOf(sent.body.results.map((r: { to_user: { id: number } }) => r.to_user)),
        want.sent,
        `sent (withheld ones in): ${member}`,
      );
      assert.deepEqual(sorted(hidden.body), want.hidden, `hidden: ${member}`);
      assert.deepEqual(
        [connections.body.count, received.body.count, sent.body.count],
        [row.connections_count, row.requests_received_count, row.requests_sent_count],
        `counters equal the lists: ${member}`,
      );
    }
  });
}

if (MODE !== 'friendship') {
  test(`stress with a model, follow mode: ${FOLLOW_OPS} operations, ${CLIENTS} clients, ${MEMBERS} hot members`, {
    timeout: Math.max(600_000, FOLLOW_OPS * 30),
  }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: KITH_STRESS_SEED=${SEED})`);
    await world.setPreferences({ follow_enabled: true });
    const { ids, tokens, send } = await hotMembers();
    const result = await runFollowStress({ members: ids, clients: CLIENTS, ops: FOLLOW_OPS, seed: SEED, send });
    t.diagnostic(JSON.stringify(result.counts));
    assert.ok(result.ops >= FOLLOW_OPS);
    for (const action of ['follow', 'hide']) {
      assert.ok((result.counts[action] ?? 0) > FOLLOW_OPS / 50, `${action}: ${result.counts[action]}`);
    }
    assert.deepEqual(result.serverErrors, [], `seed ${SEED}`);
    assert.deepEqual(result.inconsistent.slice(0, 10), [], `seed ${SEED}`);

    await graphIsClean();
    const lists = expectedFollowLists(ids, result.pairs);
    const rows = await world.db
      .selectFrom('users')
      .select(['id', 'followers_count', 'followings_count'])
      .where('id', 'in', ids)
      .execute();
    assert.ok(
      rows.some((r) => r.followers_count > 0),
      'the run left follows',
    );
    for (const row of rows) {
      const want = lists.get(row.id)!;
      const token = tokens.get(row.id)!;
      const member = `member ${row.id}, seed ${SEED}`;
      const followers = await world.get(`/api/v2/user/${row.id}/followers/?limit=100`, token);
      const followings = await world.get(`/api/v2/user/${row.id}/followings/?limit=100`, token);
      const counters = await world.get(`/api/v2/user/${row.id}/counters/`, token);
      const hidden = await world.get('/api/v2/user/hidden_users_id/', token);
      assert.deepEqual(idsOf(followers.body.results), want.followers, `followers: ${member}`);
      assert.deepEqual(idsOf(followings.body.results), want.followings, `followings: ${member}`);
      assert.deepEqual(sorted(hidden.body), want.hidden, `hidden: ${member}`);
      assert.deepEqual(
        [followers.body.count, followings.body.count, followers.body.count, followings.body.count],
        [row.followers_count, row.followings_count, counters.body.followers, counters.body.followings],
        `counters equal the lists: ${member}`,
      );
    }
  });
}
