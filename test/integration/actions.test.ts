import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { findUserWithStatus } from '../../src/db/repositories/users.js';
import { mirror, PAIR_STATES, type PairState, statusOf } from '../../src/domain/connection-state.js';
import { act } from '../../src/services/connections.js';
import { type Member, ok, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

type State = 'none' | 'sent_pending' | 'sent_rejected' | 'received_pending' | 'received_rejected' | 'connected';
type Action = 'request' | 'accept' | 'reject' | 'cancel_reject' | 'cancel_request' | 'remove' | 'mark_seen';
type Status = 'connected' | 'sent_connection_request' | 'received_connection_request' | null;

const STATES: State[] = ['none', 'sent_pending', 'sent_rejected', 'received_pending', 'received_rejected', 'connected'];
const ACTIONS: Action[] = ['request', 'accept', 'reject', 'cancel_reject', 'cancel_request', 'remove', 'mark_seen'];

/** The status table, as [my status, their status]. */
const STATUS: Record<State, [Status, Status]> = {
  none: [null, null],
  sent_pending: ['sent_connection_request', 'received_connection_request'],
  sent_rejected: ['sent_connection_request', null],
  received_pending: ['received_connection_request', 'sent_connection_request'],
  received_rejected: [null, 'sent_connection_request'],
  connected: ['connected', 'connected'],
};

/** [connections, requests sent (rejected included), requests received (pending only)] of me and them. */
type Counts = [number, number, number];
const COUNTS: Record<State, { me: Counts; them: Counts }> = {
  none: { me: [0, 0, 0], them: [0, 0, 0] },
  sent_pending: { me: [0, 1, 0], them: [0, 0, 1] },
  sent_rejected: { me: [0, 1, 0], them: [0, 0, 0] },
  received_pending: { me: [0, 0, 1], them: [0, 1, 0] },
  received_rejected: { me: [0, 0, 0], them: [0, 1, 0] },
  connected: { me: [1, 0, 0], them: [1, 0, 0] },
};

/** The action list: the state after the action, or 400. */
const OUTCOME: Record<Action, Record<State, State | 400>> = {
  request: {
    none: 'sent_pending',
    sent_pending: 'sent_pending',
    sent_rejected: 'sent_rejected',
    received_pending: 'connected',
    received_rejected: 'connected',
    connected: 'connected',
  },
  accept: {
    none: 400,
    sent_pending: 400,
    sent_rejected: 400,
    received_pending: 'connected',
    received_rejected: 'connected',
    connected: 'connected',
  },
  reject: {
    none: 400,
    sent_pending: 400,
    sent_rejected: 400,
    received_pending: 'received_rejected',
    received_rejected: 'received_rejected',
    connected: 400,
  },
  cancel_reject: {
    none: 400,
    sent_pending: 400,
    sent_rejected: 400,
    received_pending: 'received_pending',
    received_rejected: 'received_pending',
    connected: 400,
  },
  cancel_request: {
    none: 'none',
    sent_pending: 'none',
    sent_rejected: 'none',
    received_pending: 400,
    received_rejected: 400,
    connected: 400,
  },
  remove: {
    none: 'none',
    sent_pending: 400,
    sent_rejected: 400,
    received_pending: 400,
    received_rejected: 400,
    connected: 'none',
  },
  mark_seen: {
    none: 400,
    sent_pending: 400,
    sent_rejected: 400,
    received_pending: 'received_pending',
    received_rejected: 'received_rejected',
    connected: 400,
  },
};

/** Two fresh members, brought to `state` as seen by `me`, through the API. */
async function pairIn(state: State): Promise<{ me: Member; them: Member }> {
  const me = await world.user();
  const them = await world.user();
  switch (state) {
    case 'none':
      break;
    case 'sent_pending':
      await ok(world.act(me.token, them.id, 'request'));
      break;
    case 'sent_rejected':
      await ok(world.act(me.token, them.id, 'request'));
      await ok(world.act(them.token, me.id, 'reject'));
      break;
    case 'received_pending':
      await ok(world.act(them.token, me.id, 'request'));
      break;
    case 'received_rejected':
      await ok(world.act(them.token, me.id, 'request'));
      await ok(world.act(me.token, them.id, 'reject'));
      break;
    case 'connected':
      await ok(world.act(me.token, them.id, 'request'));
      await ok(world.act(them.token, me.id, 'accept'));
      break;
  }
  return { me, them };
}

/** The status `viewer` sees for `other`, read from every endpoint that shows it; they must agree. */
async function statusSeen(viewer: Member, other: Member): Promise<Status> {
  const [direct, profile, bulk, isConnection] = await Promise.all([
    ok(world.get(`/api/v2/user/${other.id}/connection_status/`, viewer.token)),
    ok(world.get(`/api/v2/user/${other.id}/`, viewer.token)),
    ok(world.post('/api/v2/user/connection/statuses/', viewer.token, { users: [other.id] })),
    ok(world.get(`/api/v2/user/${other.id}/is_connection/`, viewer.token)),
  ]);
  const status = direct.body.connection_status as Status;
  assert.deepEqual(Object.keys(direct.body), ['connection_status']);
  assert.equal(profile.body.connection_status, status, 'GET /user/{id}/ agrees with connection_status/');
  assert.deepEqual(bulk.body, { connection_statuses: { [String(other.id)]: status } });
  assert.deepEqual(isConnection.body, { is_connection: status === 'connected' });
  return status;
}

/** The counters of a member as /me/ and /counters/ show them, and as COUNT(*) over the tables says. */
async function countersOf(member: Member): Promise<Counts> {
  const me = await ok(world.get('/api/v2/user/me/', member.token));
  const counters = await ok(world.get(`/api/v2/user/${member.id}/counters/`, member.token));
  const shown: Counts = [
    me.body.connections_counter,
    me.body.connection_requests_sent_counter,
    me.body.connection_requests_received_counter,
  ];
  assert.deepEqual(
    [counters.body.connections, counters.body.connection_requests_sent, counters.body.connection_requests_received],
    shown,
    '/counters/ agrees with /me/',
  );
  assert.deepEqual(await trueCounts(member.id), shown, 'counters equal the true counts');
  return shown;
}

async function trueCounts(id: number): Promise<Counts> {
  const { rows } = await sql<{ c: number; s: number; r: number }>`
    SELECT (SELECT count(*)::int FROM connections WHERE user_id = ${id}) AS c,
           (SELECT count(*)::int FROM connection_requests WHERE from_user_id = ${id}) AS s,
           (SELECT count(*)::int FROM connection_requests WHERE to_user_id = ${id} AND rejected IS NULL) AS r`.execute(
    world.db,
  );
  const row = rows[0]!;
  return [row.c, row.s, row.r];
}

async function assertState(me: Member, them: Member, state: State) {
  assert.equal(await statusSeen(me, them), STATUS[state][0], `my status in ${state}`);
  assert.equal(await statusSeen(them, me), STATUS[state][1], `their status in ${state}`);
  assert.deepEqual(await countersOf(me), COUNTS[state].me, `my counters in ${state}`);
  assert.deepEqual(await countersOf(them), COUNTS[state].them, `their counters in ${state}`);
}

describe('every row of the action list, seen from both sides', () => {
  // The setup of each state is checked once (it is the same for every action).
  const setupChecked = new Set<State>();
  for (const action of ACTIONS) {
    for (const state of STATES) {
      const outcome = OUTCOME[action][state];
      test(`${action} from ${state} -> ${outcome}`, async () => {
        const { me, them } = await pairIn(state);
        if (!setupChecked.has(state)) {
          await assertState(me, them, state);
          setupChecked.add(state);
        }
        const response = await world.act(me.token, them.id, action);
        if (outcome === 400) {
          assert.equal(response.status, 400, response.text);
          assert.equal(response.body.code, 'invalid_connection_action');
          assert.equal(typeof response.body.detail, 'string');
          assert.ok(response.body.detail.length > 0);
          await assertState(me, them, state);
          return;
        }
        if (action === 'mark_seen') {
          assert.equal(response.status, 204, response.text);
          assert.equal(response.text, '');
        } else {
          assert.equal(response.status, 200, response.text);
          assert.deepEqual(response.body, { connection_status: STATUS[outcome][0] });
        }
        await assertState(me, them, outcome);
      });
    }
  }
});

describe('action details', () => {
  test('mark_seen sets viewed once, on their request to me only', async () => {
    const { me, them } = await pairIn('received_pending');
    const viewedOf = async () =>
      (
        await world.db
          .selectFrom('connection_requests')
          .select('viewed')
          .where('from_user_id', '=', them.id)
          .where('to_user_id', '=', me.id)
          .executeTakeFirstOrThrow()
      ).viewed;
    assert.equal(await viewedOf(), null);
    const before = Date.now();
    await ok(world.act(me.token, them.id, 'mark_seen'), 204);
    const first = await viewedOf();
    assert.ok(first instanceof Date);
    assert.ok(Math.abs(first.getTime() - before) < 60_000);
    const listed = await ok(world.get('/api/v2/user/connection/requests/', me.token));
    assert.equal(listed.body.results[0].viewed, first.toISOString());

    await new Promise((resolve) => setTimeout(resolve, 20));
    await ok(world.act(me.token, them.id, 'mark_seen'), 204);
    assert.equal((await viewedOf())?.getTime(), first.getTime(), 'viewed is set once');

    // The sender cannot mark their own request as seen.
    const wrongSide = await world.act(them.token, me.id, 'mark_seen');
    assert.equal(wrongSide.status, 400);
    assert.equal((await viewedOf())?.getTime(), first.getTime());
  });

  test('a rejected request accepted later, restored and rejected again keeps one row', async () => {
    const { me, them } = await pairIn('received_rejected');
    await ok(world.act(me.token, them.id, 'cancel_reject'));
    await assertState(me, them, 'received_pending');
    await ok(world.act(me.token, them.id, 'reject'));
    await assertState(me, them, 'received_rejected');
    // The sender still sees a pending request, and re-requesting changes nothing.
    assert.deepEqual((await ok(world.act(them.token, me.id, 'request'))).body, {
      connection_status: 'sent_connection_request',
    });
    await assertState(me, them, 'received_rejected');
    const rows = await world.db
      .selectFrom('connection_requests')
      .selectAll()
      .where('from_user_id', 'in', [me.id, them.id])
      .execute();
    assert.equal(rows.length, 1);
  });

  test('remove brings a connected pair back to nothing on both sides, and they can start over', async () => {
    const { me, them } = await pairIn('connected');
    assert.deepEqual((await ok(world.act(them.token, me.id, 'remove'))).body, { connection_status: null });
    await assertState(me, them, 'none');
    assert.deepEqual((await ok(world.act(them.token, me.id, 'request'))).body, {
      connection_status: 'sent_connection_request',
    });
    await assertState(me, them, 'received_pending');
  });

  for (const action of ACTIONS) {
    test(`${action} towards myself is a 400`, async () => {
      const me = await world.user();
      const response = await world.act(me.token, me.id, action);
      assert.equal(response.status, 400, response.text);
      assert.equal(typeof response.body.detail, 'string');
      assert.equal(typeof response.body.code, 'string');
      assert.equal(response.body.code, 'self_connection');
      assert.deepEqual(await countersOf(me), [0, 0, 0]);
    });
  }

  for (const action of ACTIONS) {
    test(`${action} towards an unknown user is a 404`, async () => {
      const me = await world.user();
      const response = await world.act(me.token, 2_000_000_000, action);
      assert.equal(response.status, 404, response.text);
      assert.equal(response.body.code, 'not_found');
      assert.equal(typeof response.body.detail, 'string');
    });
  }

  test('request towards an inactive user is a 404, and inactive users are left out of statuses', async () => {
    const me = await world.user();
    const gone = await world.user({ is_active: false });
    const response = await world.act(me.token, gone.id, 'request');
    assert.equal(response.status, 404, response.text);
    assert.equal(response.body.code, 'not_found');
    assert.deepEqual(await countersOf(me), [0, 0, 0]);
    const status = await world.get(`/api/v2/user/${gone.id}/connection_status/`, me.token);
    assert.equal(status.status, 404);
    const bulk = await ok(world.post('/api/v2/user/connection/statuses/', me.token, { users: [gone.id] }));
    assert.deepEqual(bulk.body, { connection_statuses: {} });
  });

  test('connection_status and is_connection of an unknown user', async () => {
    const me = await world.user();
    const status = await world.get('/api/v2/user/2000000000/connection_status/', me.token);
    assert.equal(status.status, 404);
    assert.equal(status.body.code, 'not_found');
    const isConnection = await world.get('/api/v2/user/2000000000/is_connection/', me.token);
    assert.equal(isConnection.status, 404, isConnection.text);
    assert.equal(isConnection.body.code, 'not_found');
    const gone = await world.user({ is_active: false });
    assert.equal((await world.get(`/api/v2/user/${gone.id}/is_connection/`, me.token)).status, 404);
  });
});

describe('POST /api/v2/user/connection/statuses/', () => {
  test('one status per existing id, unknown ids left out, duplicates collapsed', async () => {
    const me = await world.user();
    const [a, b, c, d, e] = await Promise.all([world.user(), world.user(), world.user(), world.user(), world.user()]);
    await ok(world.act(me.token, a.id, 'request'));
    await ok(world.act(b.token, me.id, 'request'));
    await ok(world.act(c.token, me.id, 'request'));
    await ok(world.act(me.token, c.id, 'accept'));
    await ok(world.act(d.token, me.id, 'request'));
    await ok(world.act(me.token, d.id, 'reject'));
    const response = await ok(
      world.post('/api/v2/user/connection/statuses/', me.token, {
        users: [a.id, b.id, c.id, d.id, e.id, me.id, 1_999_999_999, a.id],
      }),
    );
    assert.deepEqual(response.body, {
      connection_statuses: {
        [a.id]: 'sent_connection_request',
        [b.id]: 'received_connection_request',
        [c.id]: 'connected',
        [d.id]: null,
        [e.id]: null,
        [me.id]: null,
      },
    });
    // And from a's side.
    const fromA = await ok(world.post('/api/v2/user/connection/statuses/', a.token, { users: [me.id] }));
    assert.deepEqual(fromA.body, { connection_statuses: { [me.id]: 'received_connection_request' } });
    // d never learns of the rejection.
    const fromD = await ok(world.post('/api/v2/user/connection/statuses/', d.token, { users: [me.id] }));
    assert.deepEqual(fromD.body, { connection_statuses: { [me.id]: 'sent_connection_request' } });
  });

  test('an empty list gives an empty object; 1000 ids are fine; 1001 ids are a 400', async () => {
    const me = await world.user();
    assert.deepEqual((await ok(world.post('/api/v2/user/connection/statuses/', me.token, { users: [] }))).body, {
      connection_statuses: {},
    });
    const thousand = Array.from({ length: 1000 }, (_, i) => 1_000_000_000 + i);
    thousand[0] = me.id;
    assert.deepEqual((await ok(world.post('/api/v2/user/connection/statuses/', me.token, { users: thousand }))).body, {
      connection_statuses: { [me.id]: null },
    });
    const tooMany = await world.post('/api/v2/user/connection/statuses/', me.token, {
      users: Array.from({ length: 1001 }, (_, i) => i + 1),
    });
    assert.equal(tooMany.status, 400, tooMany.text);
    assert.equal(tooMany.body.code, 'invalid');
    assert.equal(typeof tooMany.body.detail, 'string');
  });

  for (const [label, body] of [
    ['no users field', {}],
    ['users not a list', { users: 'abc' }],
    ['a non-integer id', { users: ['abc'] }],
    ['a zero id', { users: [0] }],
  ] as const) {
    test(`${label} is a 400`, async () => {
      const me = await world.user();
      const response = await world.post('/api/v2/user/connection/statuses/', me.token, body);
      assert.equal(response.status, 400, response.text);
      assert.equal(typeof response.body.detail, 'string');
      assert.equal(typeof response.body.code, 'string');
    });
  }

  test('anonymous: 401', async () => {
    const response = await world.post('/api/v2/user/connection/statuses/', null, { users: [1] });
    assert.equal(response.status, 401);
  });
});

describe('counters', () => {
  test('/counters/ shows request counters to the user themself and to admins only', async () => {
    const me = await world.user();
    const other = await world.user();
    const friend = await world.user();
    const fan = await world.user();
    await ok(world.act(me.token, other.id, 'request'));
    await ok(world.act(me.token, friend.id, 'request'));
    await ok(world.act(friend.token, me.id, 'accept'));
    await ok(world.act(fan.token, me.id, 'request'));

    const nulls = {
      discussions: null,
      posts: null,
      statuses: null,
      polls: null,
      followings: null,
      followers: null,
      categories: null,
    };
    const full = { ...nulls, connections: 1, connection_requests_sent: 1, connection_requests_received: 1 };
    assert.deepEqual((await ok(world.get(`/api/v2/user/${me.id}/counters/`, me.token))).body, full);
    assert.deepEqual((await ok(world.get(`/api/v2/user/${me.id}/counters/`, await world.adminToken()))).body, full);
    assert.deepEqual((await ok(world.get(`/api/v2/user/${me.id}/counters/`, other.token))).body, {
      ...nulls,
      connections: 1,
    });
    assert.deepEqual((await ok(world.get(`/api/v2/user/${me.id}/counters/`, null))).body, { ...nulls, connections: 1 });

    const meBody = (await ok(world.get('/api/v2/user/me/', me.token))).body;
    assert.equal(meBody.connections_counter, 1);
    assert.equal(meBody.connection_requests_sent_counter, 1);
    assert.equal(meBody.connection_requests_received_counter, 1);
  });

  test('a rejected request stays in the sender counter and leaves the recipient counter', async () => {
    const { me, them } = await pairIn('sent_pending');
    assert.deepEqual(await countersOf(them), [0, 0, 1]);
    await ok(world.act(them.token, me.id, 'reject'));
    assert.deepEqual(await countersOf(me), [0, 1, 0]);
    assert.deepEqual(await countersOf(them), [0, 0, 0]);
  });

  test('counters of an unknown user: 404', async () => {
    const response = await world.get('/api/v2/user/2000000000/counters/', null);
    assert.equal(response.status, 404);
    assert.equal(response.body.code, 'not_found');
  });
});

describe('the three ways an action POST arrives', () => {
  const ways: Array<[string, Record<string, string>, string | undefined]> = [
    ['no Content-Type, no body', {}, undefined],
    ['application/json, empty body', { 'content-type': 'application/json' }, ''],
    ['application/json; charset=utf-8, empty body', { 'content-type': 'application/json; charset=utf-8' }, ''],
    ['application/x-www-form-urlencoded, empty body', { 'content-type': 'application/x-www-form-urlencoded' }, ''],
  ];
  for (const [label, headers, raw] of ways) {
    test(label, async () => {
      const me = await world.user();
      const them = await world.user();
      const send = (token: string, id: number, path: string) =>
        world.request('POST', `/api/v2/user/${id}/${path}/`, {
          token,
          headers,
          ...(raw === undefined ? {} : { raw }),
        });
      const requested = await send(me.token, them.id, 'connection/request');
      assert.equal(requested.status, 200, requested.text);
      assert.deepEqual(requested.body, { connection_status: 'sent_connection_request' });
      const seen = await send(them.token, me.id, 'connection_requests/mark_seen');
      assert.equal(seen.status, 204, seen.text);
      const rejected = await send(them.token, me.id, 'connection/reject');
      assert.deepEqual(rejected.body, { connection_status: null });
      const restored = await send(them.token, me.id, 'connection/cancel_reject');
      assert.deepEqual(restored.body, { connection_status: 'received_connection_request' });
      const accepted = await send(them.token, me.id, 'connection/accept');
      assert.equal(accepted.status, 200, accepted.text);
      assert.deepEqual(accepted.body, { connection_status: 'connected' });
      const removed = await send(me.token, them.id, 'connection/remove');
      assert.deepEqual(removed.body, { connection_status: null });
      await send(me.token, them.id, 'connection/request');
      const cancelled = await send(me.token, them.id, 'connection/cancel_request');
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.deepEqual(cancelled.body, { connection_status: null });
      await assertState(me, them, 'none');
    });
  }

  test('an action with a JSON object body is accepted too (the body is ignored)', async () => {
    const me = await world.user();
    const them = await world.user();
    const response = await world.request('POST', `/api/v2/user/${them.id}/connection/request/`, {
      token: me.token,
      body: {},
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, { connection_status: 'sent_connection_request' });
  });
});

describe('concurrency', () => {
  test('two users requesting each other at the same moment end with exactly one connection', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 8 }, async () => ({ a: await world.user(), b: await world.user() })),
    );
    for (const { a, b } of pairs) {
      const [ab, ba] = await Promise.all([world.act(a.token, b.id, 'request'), world.act(b.token, a.id, 'request')]);
      assert.equal(ab.status, 200, ab.text);
      assert.equal(ba.status, 200, ba.text);
      // One of them ran first and sent the request, the other one's request became the acceptance.
      assert.deepEqual([ab.body.connection_status, ba.body.connection_status].sort(), [
        'connected',
        'sent_connection_request',
      ]);
      const rows = await world.db
        .selectFrom('connections')
        .select(['user_id', 'friend_id'])
        .where('user_id', 'in', [a.id, b.id])
        .execute();
      assert.equal(rows.length, 2, 'one connection, stored once per side');
      const requests = await world.db
        .selectFrom('connection_requests')
        .select('id')
        .where((eb) => eb.or([eb('from_user_id', 'in', [a.id, b.id]), eb('to_user_id', 'in', [a.id, b.id])]))
        .execute();
      assert.equal(requests.length, 0);
      assert.deepEqual(await countersOf(a), [1, 0, 0]);
      assert.deepEqual(await countersOf(b), [1, 0, 0]);
    }
  });

  test('a move that waited for the locks of a move that then committed reads the pair as that move left it', async () => {
    // The lock statement's snapshot predates its wait: without reading the pair again, B's request
    // would not see A's, and would insert a second request for the pair (a unique violation, a 500).
    const [a, b] = [await world.user(), await world.user()];
    let holding!: () => void;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Both moves as they are made after a conflict (optimistic ones wait only in their write).
    const first = act(
      world.db,
      a.id,
      b.id,
      'request',
      { maxPendingRequests: 0 },
      async () => {
        holding();
        await released;
      },
      { underLocks: true },
    );
    await held;
    const second = act(world.db, b.id, a.id, 'request', { maxPendingRequests: 0 }, async () => {}, {
      underLocks: true,
    });
    if (world.handle.kind === 'postgres') {
      // Until B's move waits for the locks A's holds.
      const waiting = async () => {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(world.db);
        return rows[0]!.n;
      };
      for (let i = 0; i < 200 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await waiting(), 1, "B's move waits for the pair's locks");
    }
    release();
    assert.equal(await first, 'sent_connection_request');
    assert.equal(await second, 'connected');
    assert.deepEqual(await countersOf(a), [1, 0, 0]);
    assert.deepEqual(await countersOf(b), [1, 0, 0]);
  });

  test('many concurrent random actions over a few users keep every counter equal to the true counts', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => world.user()));
    // A deterministic pseudo-random sequence, so that a failure can be replayed.
    let seed = 20_261_130;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const statuses = new Map<number, number>();
    for (let round = 0; round < 8; round++) {
      const batch = Array.from({ length: 25 }, () => {
        const me = users[random(users.length)]!;
        let them = users[random(users.length)]!;
        if (them.id === me.id) them = users[(users.indexOf(me) + 1) % users.length]!;
        return world.act(me.token, them.id, ACTIONS[random(ACTIONS.length)]!);
      });
      for (const response of await Promise.all(batch)) {
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        assert.ok([200, 204, 400].includes(response.status), `${response.status}: ${response.text}`);
        if (response.status === 400) assert.equal(response.body.code, 'invalid_connection_action');
      }
    }
    assert.ok((statuses.get(200) ?? 0) > 0);
    for (const user of users) {
      const row = await world.db
        .selectFrom('users')
        .select(['connections_count', 'requests_sent_count', 'requests_received_count'])
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        [row.connections_count, row.requests_sent_count, row.requests_received_count],
        await trueCounts(user.id),
        `counters of user ${user.id}`,
      );
      await countersOf(user);
    }
    // Every connection is stored on both sides, and no pair has both a connection and a request.
    const { rows: oneSided } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM connections c
      WHERE NOT EXISTS (SELECT 1 FROM connections d WHERE d.user_id = c.friend_id AND d.friend_id = c.user_id)`.execute(
      world.db,
    );
    assert.equal(oneSided[0]!.n, 0);
    const { rows: both } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM connections c JOIN connection_requests r
        ON (r.from_user_id = c.user_id AND r.to_user_id = c.friend_id)`.execute(world.db);
    assert.equal(both[0]!.n, 0);
  });
});

describe('the database enforces the rules it can', () => {
  const rejects = async (label: string, run: () => Promise<unknown>) => {
    await assert.rejects(run, (error: unknown) => error instanceof Error, label);
  };

  test('no self-request, one request per pair whichever way, no one-sided or self connection', async () => {
    const a = await world.user();
    const b = await world.user();
    await rejects('self-request', () =>
      world.db
        .insertInto('connection_requests')
        .values({ from_user_id: a.id, to_user_id: a.id, rejected: null, viewed: null })
        .execute(),
    );
    await world.db
      .insertInto('connection_requests')
      .values({ from_user_id: a.id, to_user_id: b.id, rejected: null, viewed: null })
      .execute();
    await rejects('same pair again', () =>
      world.db
        .insertInto('connection_requests')
        .values({ from_user_id: a.id, to_user_id: b.id, rejected: null, viewed: null })
        .execute(),
    );
    await rejects('same pair reversed', () =>
      world.db
        .insertInto('connection_requests')
        .values({ from_user_id: b.id, to_user_id: a.id, rejected: null, viewed: null })
        .execute(),
    );
    await rejects('self connection', () =>
      world.db.transaction().execute((tx) =>
        tx
          .insertInto('connections')
          .values([{ user_id: a.id, friend_id: a.id, created: new Date() }])
          .execute(),
      ),
    );
    await rejects('one-sided connection', () =>
      world.db.transaction().execute((tx) =>
        tx
          .insertInto('connections')
          .values([{ user_id: a.id, friend_id: b.id, created: new Date() }])
          .execute(),
      ),
    );
    const left = await world.db.selectFrom('connections').selectAll().where('user_id', 'in', [a.id, b.id]).execute();
    assert.deepEqual(left, []);
    await rejects('negative counter', () =>
      world.db.updateTable('users').set({ requests_sent_count: -1 }).where('id', '=', b.id).execute(),
    );
    await world.db.deleteFrom('connection_requests').where('from_user_id', '=', a.id).execute();
  });
});

describe("the SQL status expression agrees with the state machine's statusOf", () => {
  // Each state built through the API, from my side; then both sides read by the SQL expression
  // (findUserWithStatus, what connection_status/lists use) and compared with statusOf.
  const build: Record<PairState, (me: Member, them: Member) => Promise<unknown>> = {
    none: async () => undefined,
    sent_pending: (me, them) => world.act(me.token, them.id, 'request'),
    sent_rejected: async (me, them) => {
      await world.act(me.token, them.id, 'request');
      await world.act(them.token, me.id, 'reject');
    },
    sent_withheld: async (me, them) => {
      await world.post(`/api/v2/user/${me.id}/hide/`, them.token);
      await world.act(me.token, them.id, 'request');
    },
    received_pending: (me, them) => world.act(them.token, me.id, 'request'),
    received_withheld: async (me, them) => {
      await world.act(them.token, me.id, 'request');
      await world.post(`/api/v2/user/${them.id}/hide/`, me.token);
    },
    received_rejected: async (me, them) => {
      await world.act(them.token, me.id, 'request');
      await world.act(me.token, them.id, 'reject');
    },
    connected: async (me, them) => {
      await world.act(me.token, them.id, 'request');
      await world.act(them.token, me.id, 'accept');
    },
  };
  for (const state of PAIR_STATES) {
    test(state, async () => {
      const me = await world.user();
      const them = await world.user();
      await build[state](me, them);
      const mine = await findUserWithStatus(world.db, me.id, them.id, 'friendship');
      const theirs = await findUserWithStatus(world.db, them.id, me.id, 'friendship');
      assert.equal(mine?.connection_status, statusOf(state), 'my status');
      assert.equal(theirs?.connection_status, statusOf(mirror(state)), 'their status');
    });
  }
});
