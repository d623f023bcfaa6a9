import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { queryCounter } from '../../src/db/database.js';
import { World } from '../helpers/world.js';

let world: World;
after(() => world.close());

// Each HTTP request gets its own counting scope, entered before Fastify sees the request, so every
// statement issued while serving it (the auth hook's included) is counted.
const scopes: Array<{ url: string; count: number }> = [];
before(async () => {
  world = await World.start();
  world.app.server.prependListener('request', (req) => {
    const scope = { url: req.url ?? '', count: 0 };
    scopes.push(scope);
    queryCounter.enterWith(scope);
  });
});

/** Sends one request over HTTP and returns how many SQL statements serving it issued. */
async function statementsOf(method: 'GET' | 'POST', url: string, token: string | null, payload?: unknown) {
  const response = await world.request(method, url, { token, ...(payload === undefined ? {} : { body: payload }) });
  assert.equal(response.status, 200, `${method} ${url}: ${response.text}`);
  const scope = scopes.at(-1)!;
  assert.equal(scope.url, url);
  return { count: scope.count, body: response.body };
}

test('no list or read request issues more than 2 SQL statements; the request lists issue 1', async () => {
  const me = await world.user();
  const friend = await world.user();
  const senders = [];
  for (let i = 0; i < 5; i++) {
    const s = await world.user();
    await world.act(s.token, me.id, 'request');
    senders.push(s);
  }
  await world.act(me.token, senders[0]!.id, 'reject');
  await world.act(me.token, friend.id, 'request');
  await world.act(friend.token, me.id, 'accept');
  await world.act(me.token, senders[1]!.id, 'request'); // a request back is an acceptance: a connection
  const stranger = await world.user();
  await world.act(me.token, stranger.id, 'request');

  const first = await statementsOf('GET', '/api/v2/user/connection/requests/?limit=2', me.token);
  assert.ok(first.body.next.includes('cursor='), 'next carries a cursor');
  const followed = new URL(first.body.next);

  const cases: Array<[string, 'GET' | 'POST', string, string | null, unknown?]> = [
    ['received', 'GET', '/api/v2/user/connection/requests/', me.token],
    ['received (old path)', 'GET', '/api/v2/user/connection_requests/?limit=1&offset=1', me.token],
    ['received, following next', 'GET', followed.pathname + followed.search, me.token],
    ['received, past the end', 'GET', '/api/v2/user/connection/requests/?offset=50', me.token],
    ['rejected', 'GET', '/api/v2/user/connection/requests/?rejected=true', me.token],
    ['sent', 'GET', '/api/v2/user/connection/requests_sent/', me.token],
    ['connections, signed in', 'GET', `/api/v2/user/${me.id}/connections/`, friend.token],
    ['connections, mutual', 'GET', `/api/v2/user/${me.id}/connections/?mutual=1`, friend.token],
    ['connections, anonymous', 'GET', `/api/v2/user/${me.id}/connections/`, null],
    ['is_connection', 'GET', `/api/v2/user/${friend.id}/is_connection/`, me.token],
    ['connection_status', 'GET', `/api/v2/user/${friend.id}/connection_status/`, me.token],
    [
      'statuses',
      'POST',
      '/api/v2/user/connection/statuses/',
      me.token,
      { users: [friend.id, stranger.id, ...senders.map((s) => s.id)] },
    ],
    ['me', 'GET', '/api/v2/user/me/', me.token],
    ['a user', 'GET', `/api/v2/user/${friend.id}/`, me.token],
    ['users', 'GET', '/api/v2/user/?limit=5', me.token],
  ];
  const counts: Record<string, number> = {};
  for (const [name, method, url, token, payload] of cases) {
    counts[name] = (await statementsOf(method, url, token, payload)).count;
  }
  for (const [name, count] of Object.entries(counts)) {
    assert.ok(count >= 1 && count <= 2, `${name}: ${count} statements (${JSON.stringify(counts)})`);
  }
  // The request lists: one statement loads the viewer (with the community settings) and the page.
  for (const name of ['received', 'received (old path)', 'received, following next', 'received, past the end']) {
    assert.equal(counts[name], 1, name);
  }
  assert.equal(counts.rejected, 1);
  assert.equal(counts.sent, 1);
});

test('follow mode: the follow lists and checks issue at most 2 statements', async () => {
  const star = await world.user();
  const fans = [await world.user(), await world.user(), await world.user()];
  await world.setPreferences({ follow_enabled: true });
  try {
    for (const fan of fans) {
      const followed = await world.request('POST', `/api/v2/user/${star.id}/follow/`, { token: fan.token });
      assert.equal(followed.status, 204);
    }
    const first = await statementsOf('GET', `/api/v2/user/${star.id}/followers/?limit=1`, null);
    const next = new URL(first.body.next);
    const cases: Array<[string, string, string | null]> = [
      ['followers, anonymous', `/api/v2/user/${star.id}/followers/`, null],
      ['followers, signed in', `/api/v2/user/${star.id}/followers/`, fans[0]!.token],
      ['followers, following next', next.pathname + next.search, null],
      ['followers, mutual', `/api/v2/user/${star.id}/followers/?mutual=1`, fans[0]!.token],
      ['followings', `/api/v2/user/${fans[1]!.id}/followings/`, fans[0]!.token],
      ['is_followed', `/api/v2/user/${star.id}/is_followed/`, fans[0]!.token],
    ];
    for (const [name, url, token] of cases) {
      const { count } = await statementsOf('GET', url, token);
      assert.ok(count >= 1 && count <= 2, `${name}: ${count} statements`);
    }
  } finally {
    await world.setPreferences({ follow_enabled: false });
  }
});

/** Sends one write over HTTP, checks its status, and returns how many SQL statements serving it issued. */
async function writeStatements(url: string, token: string, status: number) {
  const response = await world.request('POST', url, {
    token,
    headers: { 'content-type': 'application/json' },
    raw: '',
  });
  assert.equal(response.status, status, `POST ${url}: ${response.text}`);
  const scope = scopes.at(-1)!;
  assert.equal(scope.url, url);
  return scope.count;
}

test('every connection action and every hide move costs 2 statements: load, then lock and write', async () => {
  const [a, b, c, d] = [await world.user(), await world.user(), await world.user(), await world.user()];
  const action = (actor: typeof a, other: typeof a, name: string) =>
    writeStatements(`/api/v2/user/${other.id}/connection/${name}/`, actor.token, 200);
  const hide = (actor: typeof a, other: typeof a) =>
    writeStatements(`/api/v2/user/${other.id}/hide/`, actor.token, 204);
  const counts: Array<[string, number]> = [
    ['request', await action(a, b, 'request')],
    ['mark_seen', await writeStatements(`/api/v2/user/${a.id}/connection_requests/mark_seen/`, b.token, 204)],
    ['reject', await action(b, a, 'reject')],
    ['cancel_reject', await action(b, a, 'cancel_reject')],
    ['accept', await action(b, a, 'accept')],
    ['accept again (no change)', await action(b, a, 'accept')],
    ['remove', await action(a, b, 'remove')],
    ['request (to cancel)', await action(a, c, 'request')],
    ['cancel_request', await action(a, c, 'cancel_request')],
    ['request (then hidden)', await action(d, a, 'request')],
    // Hiding a member whose request waits takes it out of sight: the request row moves too.
    ['hide', await hide(a, d)],
    ['unhide', await hide(a, d)],
    ['hide (nothing waiting)', await hide(a, c)],
    ['request to a member who hides me (withheld)', await action(c, a, 'request')],
    ['unhide (a withheld request shown)', await hide(a, c)],
  ];
  // A move that changes something is the two; one that changes nothing writes nothing (one).
  for (const [name, count] of counts) {
    const expected = name.endsWith('(no change)') ? 1 : 2;
    assert.equal(count, expected, `${name}: ${count} statements (${JSON.stringify(counts)})`);
  }

  // The moves did what they say: the statements counted are the ones that wrote.
  const status = async (viewer: typeof a, other: typeof a) =>
    (await world.request('GET', `/api/v2/user/${other.id}/connection_status/`, { token: viewer.token })).body
      .connection_status;
  assert.equal(await status(a, b), null);
  assert.equal(await status(a, c), 'received_connection_request');
  assert.equal(await status(a, d), 'received_connection_request');
});

test('follow mode: a follow and an unfollow cost 2 statements each', async () => {
  const [fan, star] = [await world.user(), await world.user()];
  await world.setPreferences({ follow_enabled: true });
  try {
    const url = `/api/v2/user/${star.id}/follow/`;
    const follow = await writeStatements(url, fan.token, 204);
    const unfollow = await writeStatements(url, fan.token, 204);
    assert.equal(follow, 2, 'follow');
    assert.equal(unfollow, 2, 'unfollow');
    const followers = await world.request('GET', `/api/v2/user/${star.id}/followers/`, { token: fan.token });
    assert.equal(followers.body.count, 0, 'followed, then unfollowed');
  } finally {
    await world.setPreferences({ follow_enabled: false });
  }
});
