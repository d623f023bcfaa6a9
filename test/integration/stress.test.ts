import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkGraph } from '../../src/services/graph-check.js';
import { expectedLists, runStress } from '../helpers/stress.js';
import { type Member, World } from '../helpers/world.js';

// 64 clients, 50 hot members, every connection action and read over real HTTP, checked against the
// state table as it runs; afterwards kith check is clean and every list and counter equals the
// model. Bounded: 20,000 operations on PostgreSQL, 2,000 on the embedded database (one connection).
// The seed is printed; KITH_STRESS_SEED=N replays a client's choices, KITH_STRESS_OPS=N changes the
// size (`npm run stress` for long runs).

const postgres = process.env.DATABASE_URL !== undefined;
const OPS = Number(process.env.KITH_STRESS_OPS ?? (postgres ? 20_000 : 2_000));
const SEED = Number(process.env.KITH_STRESS_SEED ?? Math.floor(Math.random() * 1_000_000));
const CLIENTS = 64;
const MEMBERS = 50;

let world: World;
let members: Member[];
before(async () => {
  world = await World.start();
  members = [];
  for (let i = 0; i < MEMBERS; i++) members.push(await world.user());
});
after(() => world.close());

test(`stress with a model: ${OPS} operations, ${CLIENTS} clients, ${MEMBERS} hot members`, {
  timeout: Math.max(600_000, OPS * 30),
}, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: KITH_STRESS_SEED=${SEED})`);
  process.stderr.write(`stress seed ${SEED}\n`);
  const tokens = new Map(members.map((m) => [m.id, m.token]));
  const ids = members.map((m) => m.id);
  const result = await runStress({
    members: ids,
    clients: CLIENTS,
    ops: OPS,
    seed: SEED,
    send: async (member, method, path) => {
      const r = await world.request(method, path, {
        token: tokens.get(member)!,
        ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, raw: '' } : {}),
      });
      return { status: r.status, body: r.body };
    },
  });
  t.diagnostic(JSON.stringify(result.counts));
  assert.ok(result.ops >= OPS);
  for (const action of ['request', 'accept', 'reject', 'cancel_reject', 'cancel_request', 'remove', 'mark_seen']) {
    assert.ok((result.counts[action] ?? 0) > OPS / 50, `${action}: ${result.counts[action]}`);
  }
  assert.deepEqual(result.serverErrors, [], `seed ${SEED}`);
  assert.deepEqual(result.inconsistent.slice(0, 10), [], `seed ${SEED}`);

  // Quiet now: the graph's invariants, then every list and counter against the model.
  const check = await checkGraph(world.db);
  assert.deepEqual(
    check.invariants.filter((i) => i.violations > 0),
    [],
  );
  const lists = expectedLists(ids, result.states);
  const states = [...result.states.values()];
  assert.ok(
    states.includes('connected') && states.includes('received_rejected'),
    'the run reached every kind of state',
  );
  const rows = await world.db
    .selectFrom('users')
    .select(['id', 'connections_count', 'requests_received_count', 'requests_sent_count'])
    .where('id', 'in', ids)
    .execute();
  const sorted = (items: Array<{ id: number }>) => items.map((u) => u.id).sort((p, q) => p - q);
  for (const row of rows) {
    const want = lists.get(row.id)!;
    const token = tokens.get(row.id)!;
    const connections = await world.get(`/api/v2/user/${row.id}/connections/?limit=100`, token);
    const received = await world.get('/api/v2/user/connection/requests/?limit=100', token);
    const rejected = await world.get('/api/v2/user/connection/requests/?limit=100&rejected=true', token);
    const sent = await world.get('/api/v2/user/connection/requests_sent/?limit=100', token);
    const member = `member ${row.id}, seed ${SEED}`;
    assert.deepEqual(sorted(connections.body.results), want.connections, member);
    assert.deepEqual(
      sorted(received.body.results.map((r: { from_user: { id: number } }) => r.from_user)),
      want.received,
      member,
    );
    assert.deepEqual(
      sorted(rejected.body.results.map((r: { from_user: { id: number } }) => r.from_user)),
      want.rejected,
      member,
    );
    assert.deepEqual(sorted(sent.body.results.map((r: { to_user: { id: number } }) => r.to_user)), want.sent, member);
    assert.deepEqual(
      [connections.body.count, received.body.count, sent.body.count],
      [row.connections_count, row.requests_received_count, row.requests_sent_count],
      `counters equal the lists: ${member}`,
    );
  }
});
