import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { renderStoredUsers } from '../../src/db/repositories/user-json.js';
import { checkCommunity } from '../../src/db/seed.js';
import { type ApiResponse, type Member, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const CLEAN = {
  wrongCounters: 0,
  overlaps: 0,
  wrongDays: 0,
  staleJson: 0,
  wrongFollowCounters: 0,
  wrongFollowDays: 0,
  wrongWithheld: 0,
};

const hide = (who: Member, them: { id: number }) =>
  world.request('POST', `/api/v2/user/${them.id}/hide/`, {
    token: who.token,
    headers: { 'content-type': 'application/json' },
    raw: '',
  });
const isHidden = async (who: Member, them: { id: number }) =>
  (await ok(world.get(`/api/v2/user/${them.id}/is_hidden/`, who.token))).is_hidden;
const isHiddenBy = async (who: Member, them: { id: number }) =>
  (await ok(world.get(`/api/v2/user/${them.id}/is_hidden_by/`, who.token))).is_hidden_by;
const ids = (body: { results: Array<{ id: number }> }) => body.results.map((u) => u.id);
const senders = (body: { results: Array<{ from_user: { id: number } }> }) => body.results.map((r) => r.from_user.id);
const receivers = (body: { results: Array<{ to_user: { id: number } }> }) => body.results.map((r) => r.to_user.id);

async function ok(response: Promise<ApiResponse> | ApiResponse, status = 200) {
  const answer = await response;
  assert.equal(answer.status, status, answer.text);
  return answer.body;
}

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.detail, 'string');
}

/** What a member sees of their requests: received and sent lists, their counters, and their status towards another. */
async function viewOf(who: Member, other: { id: number }) {
  const received = await ok(world.get('/api/v2/user/connection/requests/', who.token));
  const sent = await ok(world.get('/api/v2/user/connection/requests_sent/', who.token));
  const counters = await ok(world.get(`/api/v2/user/${who.id}/counters/`, who.token));
  const status = (await ok(world.get(`/api/v2/user/${other.id}/connection_status/`, who.token))).connection_status;
  return {
    received: senders(received),
    receivedCount: received.count,
    sent: receivers(sent),
    sentCount: sent.count,
    counters: { sent: counters.connection_requests_sent, received: counters.connection_requests_received },
    status,
  };
}

const notificationsOf = async (userId: number) =>
  (
    await world.db
      .selectFrom('notifications')
      .select(['type', 'actor_id'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute()
  ).map((n) => `${n.type}:${n.actor_id}`);

describe('who may call the hide endpoints', () => {
  const paths = (id: number): Array<[string, string]> => [
    ['POST', `/api/v2/user/${id}/hide/`],
    ['GET', `/api/v2/user/${id}/is_hidden/`],
    ['GET', `/api/v2/user/${id}/is_hidden_by/`],
    ['GET', '/api/v2/user/hidden_users/'],
    ['GET', '/api/v2/user/hidden_users_id/'],
  ];

  test('no token or a bad one: 401, and nothing changes', async () => {
    const them = await world.user();
    for (const [method, path] of paths(them.id)) {
      assertError(await world.request(method, path, {}), 401, 'not_authenticated');
      assertError(await world.request(method, path, { token: 'not.a.token' }), 401, 'authentication_failed');
    }
    const rows = await world.db.selectFrom('user_hides').selectAll().where('hidden_id', '=', them.id).execute();
    assert.deepEqual(rows, []);
  });

  test('a deactivated member: 401 authentication_failed', async () => {
    const gone = await world.user({ is_active: false });
    const them = await world.user();
    for (const [method, path] of paths(them.id)) {
      assertError(await world.request(method, path, { token: gone.token }), 401, 'authentication_failed');
    }
  });

  test('no 403: hiding is every member’s, in friendship and in follow mode alike', async () => {
    const me = await world.user();
    const them = await world.user();
    await world.setPreferences({ follow_enabled: true });
    try {
      await ok(hide(me, them), 204);
      assert.equal(await isHidden(me, them), true);
      assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', me.token)), [them.id]);
    } finally {
      await world.setPreferences({ follow_enabled: false });
    }
    await ok(hide(me, them), 204);
    assert.equal(await isHidden(me, them), false);
  });

  test('bad ids and queries: 400 naming the field; oneself: 400 self_connection; nothing changes', async () => {
    const me = await world.user();
    for (const id of ['0', '99999999999']) {
      for (const [method, path] of paths(0).slice(0, 3)) {
        const response = await world.request(method, path.replace('/0/', `/${id}/`), { token: me.token });
        assert.equal(response.status, 400, `${method} ${path} ${id}: ${response.text}`);
      }
    }
    assertError(await hide(me, me), 400, 'self_connection');
    for (const query of ['limit=0', 'offset=-1', 'ordering=password', 'limit=x', `search=${'x'.repeat(256)}`]) {
      assertError(await world.get(`/api/v2/user/hidden_users/?${query}`, me.token), 400, 'invalid');
    }
    const rows = await world.db.selectFrom('user_hides').selectAll().where('hider_id', '=', me.id).execute();
    assert.deepEqual(rows, []);
  });

  test('unknown and deactivated members: 404, and nothing changes', async () => {
    const me = await world.user();
    const inactive = await world.user({ is_active: false });
    for (const id of [2_147_483_647, inactive.id]) {
      for (const [method, path] of paths(id).slice(0, 3)) {
        assertError(await world.request(method, path, { token: me.token }), 404, 'not_found');
      }
    }
    const rows = await world.db.selectFrom('user_hides').selectAll().where('hider_id', '=', me.id).execute();
    assert.deepEqual(rows, []);
  });
});

describe('hiding and showing again (a toggle)', () => {
  test('hide: is_hidden for me, is_hidden_by for them, in my lists; again: all gone', async () => {
    const me = await world.user();
    const them = await world.user();
    const bystander = await world.user();
    assert.equal(await isHidden(me, them), false);
    assert.equal(await isHiddenBy(them, me), false);

    assert.equal((await hide(me, them)).status, 204);
    assert.equal(await isHidden(me, them), true);
    assert.equal(await isHiddenBy(me, them), false, 'they do not hide me');
    assert.equal(await isHiddenBy(them, me), true);
    assert.equal(await isHidden(them, me), false);
    assert.equal(await isHiddenBy(bystander, me), false);
    assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', me.token)), [them.id]);
    assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', them.token)), []);
    const list = await ok(world.get('/api/v2/user/hidden_users/', me.token));
    assert.equal(list.count, 1);
    assert.deepEqual(ids(list), [them.id]);
    assert.equal(list.results[0].username, them.username);
    assert.equal(list.results[0].connection_status, null);

    assert.equal((await hide(me, them)).status, 204);
    assert.equal(await isHidden(me, them), false);
    assert.equal(await isHiddenBy(them, me), false);
    assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', me.token)), []);
    assert.equal((await ok(world.get('/api/v2/user/hidden_users/', me.token))).count, 0);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('two members may hide each other; a deactivated member leaves my hidden lists', async () => {
    const a = await world.user();
    const b = await world.user();
    await ok(hide(a, b), 204);
    await ok(hide(b, a), 204);
    assert.equal(await isHidden(a, b), true);
    assert.equal(await isHiddenBy(a, b), true);
    await world.db.updateTable('users').set({ is_active: false }).where('id', '=', b.id).execute();
    try {
      assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', a.token)), []);
      assert.equal((await ok(world.get('/api/v2/user/hidden_users/', a.token))).count, 0);
    } finally {
      await world.db.updateTable('users').set({ is_active: true }).where('id', '=', b.id).execute();
    }
    assert.deepEqual(await ok(world.get('/api/v2/user/hidden_users_id/', a.token)), [b.id]);
  });

  test('the hidden list: the last hidden first, filters, ordering, exact count and next', async () => {
    const me = await world.user();
    const hidden: Member[] = [];
    const specs = [
      { real_name: 'Ada Lovelace', location: 'London', gender: 'Female' as const, description: 'engines' },
      { real_name: 'Alan Turing', location: 'Wilmslow', gender: 'Male' as const },
      { real_name: 'Grace Hopper', location: 'New York', gender: 'Female' as const },
      { real_name: 'Kurt Gödel', location: 'Vienna' },
      { real_name: 'Ada Yonath', location: 'London', gender: 'Female' as const },
    ];
    for (const spec of specs) {
      const member = await world.user(spec);
      await ok(hide(me, member), 204);
      hidden.push(member);
    }
    const visible = await world.user({ real_name: 'Ada Visible', location: 'London' });
    const get = async (query: string) => ok(world.get(`/api/v2/user/hidden_users/?${query}`, me.token));
    const byIndex = (...indexes: number[]) => indexes.map((i) => hidden[i]!.id);

    assert.deepEqual(ids(await get('')), byIndex(4, 3, 2, 1, 0));
    assert.deepEqual(ids(await get('ordering=id')), byIndex(0, 1, 2, 3, 4));
    assert.deepEqual(ids(await get('ordering=-id')), byIndex(4, 3, 2, 1, 0));
    assert.deepEqual(ids(await get('search=ada')), byIndex(4, 0), 'real_name, not the visible Ada');
    assert.deepEqual(ids(await get(`search=${hidden[1]!.username.slice(2)}`)), byIndex(1), 'username');
    assert.deepEqual(ids(await get('location=london&ordering=id')), byIndex(0, 4));
    assert.deepEqual(ids(await get('gender=Female&ordering=id')), byIndex(0, 2, 4));
    assert.deepEqual(ids(await get('real_name=grace%20hopper')), byIndex(2));
    assert.deepEqual(ids(await get('description=engines')), byIndex(0));
    assert.deepEqual(ids(await get(`username=${hidden[3]!.username.toUpperCase()}`)), byIndex(3));
    assert.deepEqual(ids(await get(`username=${visible.username}`)), []);

    const first = await get('limit=2&ordering=id');
    assert.equal(first.count, 5);
    assert.deepEqual(ids(first), byIndex(0, 1));
    const second = await ok(world.get(first.next, me.token));
    assert.deepEqual(ids(second), byIndex(2, 3));
    const last = await ok(world.get(second.next, me.token));
    assert.deepEqual(ids(last), byIndex(4));
    assert.equal(last.next, null);
    const filtered = await get('gender=Female&limit=2&offset=2&ordering=id');
    assert.equal(filtered.count, 3);
    assert.deepEqual(ids(filtered), byIndex(4));
  });
});

describe('what hiding does to requests', () => {
  test('their waiting request leaves my list, counter and notifications; to them nothing changed', async () => {
    const me = await world.user();
    const them = await world.user();
    const other = await world.user();
    await world.act(them.token, me.id, 'request');
    await world.act(other.token, me.id, 'request');
    assert.deepEqual(await notificationsOf(me.id), [`connection_request:${them.id}`, `connection_request:${other.id}`]);
    const theirsBefore = await viewOf(them, me);

    await ok(hide(me, them), 204);
    const mine = await viewOf(me, them);
    assert.deepEqual(mine.received, [other.id]);
    assert.equal(mine.receivedCount, 1);
    assert.deepEqual(mine.counters, { sent: 0, received: 1 });
    assert.equal(mine.status, null, 'I see no request from a member I hide');
    assert.deepEqual(await notificationsOf(me.id), [`connection_request:${other.id}`], 'its notification withdrawn');
    assert.deepEqual(await viewOf(them, me), theirsBefore, 'to them it looks like any request still waiting');
    assert.equal(theirsBefore.status, 'sent_connection_request');
    assert.deepEqual(theirsBefore.counters, { sent: 1, received: 0 });
    assert.deepEqual(await checkCommunity(world.db), CLEAN);

    // Showing them again brings the request back, without a new notification.
    await ok(hide(me, them), 204);
    const shown = await viewOf(me, them);
    assert.deepEqual(shown.received.sort(), [them.id, other.id].sort());
    assert.deepEqual(shown.counters, { sent: 0, received: 2 });
    assert.equal(shown.status, 'received_connection_request');
    assert.deepEqual(await notificationsOf(me.id), [`connection_request:${other.id}`]);
    assert.deepEqual(await viewOf(them, me), theirsBefore);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('a hidden member’s new request never reaches me, and tells me nothing; they see it waiting', async () => {
    const me = await world.user();
    const them = await world.user();
    await ok(hide(me, them), 204);
    assert.equal((await world.act(them.token, me.id, 'request')).status, 200);
    const mine = await viewOf(me, them);
    assert.deepEqual(
      [mine.received, mine.receivedCount, mine.counters, mine.status],
      [[], 0, { sent: 0, received: 0 }, null],
    );
    assert.deepEqual(await notificationsOf(me.id), []);
    const theirs = await viewOf(them, me);
    assert.deepEqual(theirs.sent, [me.id]);
    assert.deepEqual(
      [theirs.sentCount, theirs.counters, theirs.status],
      [1, { sent: 1, received: 0 }, 'sent_connection_request'],
    );
    // The event is recorded (webhooks see the request made), with no notification.
    const events = await world.db
      .selectFrom('events')
      .select('type')
      .where('from_user_id', '=', them.id)
      .where('to_user_id', '=', me.id)
      .execute();
    assert.deepEqual(
      events.map((e) => e.type),
      ['connection_request.created'],
    );

    // They withdraw it: still nothing reaches me.
    assert.equal((await world.act(them.token, me.id, 'cancel_request')).status, 200);
    assert.deepEqual(await notificationsOf(me.id), []);
    assert.deepEqual((await viewOf(them, me)).counters, { sent: 0, received: 0 });
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('I may still answer a hidden member’s request: asking them or accepting connects, rejecting rejects', async () => {
    for (const action of ['request', 'accept'] as const) {
      const me = await world.user();
      const them = await world.user();
      await ok(hide(me, them), 204);
      await world.act(them.token, me.id, 'request');
      const answer = await world.act(me.token, them.id, action);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.connection_status, 'connected', action);
      assert.deepEqual(await notificationsOf(them.id), [`connection_accept:${me.id}`]);
      assert.equal((await viewOf(them, me)).status, 'connected');
      assert.equal(await isHidden(me, them), true, 'connecting does not show them again');
    }
    const me = await world.user();
    const them = await world.user();
    await ok(hide(me, them), 204);
    await world.act(them.token, me.id, 'request');
    assert.equal((await world.act(me.token, them.id, 'reject')).status, 200);
    const rejected = await ok(world.get('/api/v2/user/connection/requests/?rejected=true', me.token));
    assert.deepEqual(senders(rejected), [them.id]);
    assert.equal((await viewOf(them, me)).status, 'sent_connection_request', 'a rejection is never shown');
    // Restoring it while I hide them: it waits out of my sight again.
    assert.equal((await world.act(me.token, them.id, 'cancel_reject')).status, 200);
    const mine = await viewOf(me, them);
    assert.deepEqual([mine.received, mine.counters.received, mine.status], [[], 0, null]);
    assert.equal((await ok(world.get('/api/v2/user/connection/requests/?rejected=true', me.token))).count, 0);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('a rejected request stays where it is; my own requests and connections are not touched', async () => {
    const me = await world.user();
    const rejectedSender = await world.user();
    const asked = await world.user();
    const friend = await world.user();
    await world.act(rejectedSender.token, me.id, 'request');
    await world.act(me.token, rejectedSender.id, 'reject');
    await world.act(me.token, asked.id, 'request');
    await world.act(me.token, friend.id, 'request');
    await world.act(friend.token, me.id, 'accept');
    for (const member of [rejectedSender, asked, friend]) await ok(hide(me, member), 204);

    const rejected = await ok(world.get('/api/v2/user/connection/requests/?rejected=true', me.token));
    assert.deepEqual(senders(rejected), [rejectedSender.id]);
    const mine = await viewOf(me, asked);
    assert.deepEqual([mine.sent, mine.status], [[asked.id], 'sent_connection_request']);
    assert.equal((await viewOf(asked, me)).status, 'received_connection_request', 'my request still reaches them');
    const connections = await ok(world.get(`/api/v2/user/${me.id}/connections/`, me.token));
    assert.deepEqual(ids(connections), [friend.id]);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('a member who hides me and one I hide: deleting a member dissolves withheld requests and their hides', async () => {
    const admin = await world.adminToken();
    const me = await world.user();
    const them = await world.user();
    await ok(hide(them, me), 204);
    await world.act(me.token, them.id, 'request');
    await ok(hide(me, them), 204);
    const response = await world.request('DELETE', `/api/v2/user/${them.id}/`, { token: admin });
    assert.equal(response.status, 204, response.text);
    assert.deepEqual((await viewOf(me, { id: 1 })).counters, { sent: 0, received: 0 });
    const hides = await world.db
      .selectFrom('user_hides')
      .selectAll()
      .where((eb) => eb.or([eb('hider_id', '=', them.id), eb('hidden_id', '=', them.id)]))
      .execute();
    assert.deepEqual(hides, []);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });
});

describe('hiding on a long list: count, next and deep offsets stay exact', () => {
  let star: Member;
  let fans: number[];
  const N = 2600;

  before(async () => {
    // A small celebrity: N requests spread over about 60 days, inserted in one statement (the
    // trigger keeps the per-day counts), counters set to match, as fast-lists.test.ts does.
    star = await world.user();
    const { rows } = await sql<{ id: number }>`
      WITH s AS (
        INSERT INTO users (username, real_name)
        SELECT 'hfan_' || ${star.id} || '_' || g, 'Fan ' || g FROM generate_series(1, ${N}) g
        RETURNING id
      )
      INSERT INTO connection_requests (from_user_id, to_user_id, created)
      SELECT id, ${star.id}, now() - (id % 997) * interval '87 minutes' - (id % 13) * interval '1 ms' FROM s
      RETURNING from_user_id AS id`.execute(world.db);
    fans = rows.map((r) => r.id).sort((a, b) => a - b);
    await sql`UPDATE users SET requests_received_count = ${N} WHERE id = ${star.id}`.execute(world.db);
    await sql`UPDATE users SET requests_sent_count = 1 WHERE username LIKE ${`hfan_${star.id}_%`}`.execute(world.db);
    await renderStoredUsers(world.db, star.id + 1);
    // The star hides every 61st fan, through the API: spread over the whole list and its days.
    for (const fan of fans.filter((_, i) => i % 61 === 0)) await ok(hide(star, { id: fan }), 204);
  });

  /** The page expected from the rows: the star's waiting requests, but those of members they hide. */
  const expectedIds = async (offset: number, limit: number) => {
    const { rows } = await sql<{ id: number }>`
      SELECT r.id FROM connection_requests r
      WHERE r.to_user_id = ${star.id} AND r.rejected IS NULL
        AND r.from_user_id NOT IN (SELECT hidden_id FROM user_hides WHERE hider_id = ${star.id})
      ORDER BY r.created DESC, r.id DESC LIMIT ${limit} OFFSET ${offset}`.execute(world.db);
    return rows.map((r) => r.id);
  };
  const hiddenCount = Math.ceil(N / 61);

  test('count and every depth of the received list leave out the hidden members’ requests', async () => {
    const visible = N - hiddenCount;
    const rows = await world.db.selectFrom('user_hides').select('hidden_id').where('hider_id', '=', star.id).execute();
    const hidden = new Set(rows.map((r) => r.hidden_id));
    assert.equal(hidden.size, hiddenCount);
    for (const offset of [0, 20, 1999, 2000, 2001, 2345, visible - 21, visible - 20, visible - 1]) {
      const page = await world.get(`/api/v2/user/connection/requests/?limit=20&offset=${offset}`, star.token);
      assert.equal(page.status, 200, page.text);
      assert.equal(page.body.count, visible);
      assert.deepEqual(ids(page.body), await expectedIds(offset, 20), `offset ${offset}`);
      assert.equal(page.body.next === null, offset + 20 >= visible, `next at offset ${offset}`);
      for (const request of page.body.results) assert.ok(!hidden.has(request.from_user.id), `offset ${offset}`);
    }
    const past = await ok(world.get(`/api/v2/user/connection/requests/?limit=20&offset=${visible}`, star.token));
    assert.deepEqual(ids(past), []);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });

  test('following next links (cursors) walks the visible list once, in order', async () => {
    const seen: number[] = [];
    let url: string | null = '/api/v2/user/connection/requests/?limit=100';
    while (url) {
      const page: ApiResponse = await world.get(url, star.token);
      assert.equal(page.status, 200, page.text);
      seen.push(...ids(page.body));
      url = page.body.next;
    }
    assert.deepEqual(seen, await expectedIds(0, N));
    assert.equal(seen.length, N - hiddenCount);
  });

  test('showing one again and hiding another move exactly one request each way', async () => {
    const shown = fans[0]!;
    const newlyHidden = fans[1]!;
    await ok(hide(star, { id: shown }), 204);
    await ok(hide(star, { id: newlyHidden }), 204);
    const page = await ok(world.get('/api/v2/user/connection/requests/?limit=20&offset=2300', star.token));
    assert.equal(page.count, N - hiddenCount);
    assert.deepEqual(ids(page), await expectedIds(2300, 20));
    const all = await ok(world.get(`/api/v2/user/connection/requests/?limit=100&offset=0`, star.token));
    assert.equal(all.count, N - hiddenCount);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });
});
