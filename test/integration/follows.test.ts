import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { renderStoredUsers } from '../../src/db/repositories/user-json.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { Receiver } from '../helpers/receiver.js';
import { expectedUser } from '../helpers/shapes.js';
import { SocketClient } from '../helpers/socket.js';
import { type ApiResponse, type Member, TEST_WEBHOOKS, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
  await world.setPreferences({ follow_enabled: true });
});
after(() => world.close());

const follow = (who: Member, them: { id: number }) =>
  world.request('POST', `/api/v2/user/${them.id}/follow/`, {
    token: who.token,
    headers: { 'content-type': 'application/json' },
    raw: '',
  });
const rowOf = (id: number) => world.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const ids = (page: ApiResponse) => page.body.results.map((u: { id: number }) => u.id);

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.detail, 'string');
}

describe('who may call the follow endpoints', () => {
  const paths = (id: number) => [
    ['POST', `/api/v2/user/${id}/follow/`],
    ['GET', `/api/v2/user/${id}/followers/`],
    ['GET', `/api/v2/user/${id}/followings/`],
    ['GET', `/api/v2/user/${id}/is_followed/`],
    ['GET', `/api/v2/user/${id}/is_follower/`],
  ];

  test('friendship mode: 403 follow_mode_required for every one of them, with or without a token', async () => {
    const me = await world.user();
    const them = await world.user();
    await world.setPreferences({ follow_enabled: false });
    try {
      for (const [method, path] of paths(them.id)) {
        assertError(await world.request(method!, path!, { token: me.token }), 403, 'follow_mode_required');
      }
      // The public lists too: the mode decides before anything else but the token.
      assertError(await world.get(`/api/v2/user/${them.id}/followers/`, null), 403, 'follow_mode_required');
    } finally {
      await world.setPreferences({ follow_enabled: true });
    }
  });

  test('follow mode: the friendship endpoints answer 403 friendship_mode_required', async () => {
    const me = await world.user();
    const them = await world.user();
    for (const action of ['request', 'accept', 'reject', 'cancel_request', 'cancel_reject', 'remove']) {
      assertError(await world.act(me.token, them.id, action), 403, 'friendship_mode_required');
    }
    assertError(await world.get(`/api/v2/user/${them.id}/connections/`, me.token), 403, 'friendship_mode_required');
    assertError(await world.get('/api/v2/user/connection/requests/', me.token), 403, 'friendship_mode_required');
  });

  test('no token: 401 for follow and the checks; the lists are public while content is available', async () => {
    const them = await world.user();
    for (const [method, path] of paths(them.id)) {
      const response = await world.request(method!, path!, {});
      if (path!.endsWith('followers/') || path!.endsWith('followings/')) assert.equal(response.status, 200, path);
      else assertError(response, 401, 'not_authenticated');
    }
    await world.setPreferences({ content_availability: false });
    try {
      assertError(await world.get(`/api/v2/user/${them.id}/followers/`, null), 401, 'not_authenticated');
    } finally {
      await world.setPreferences({ content_availability: true });
    }
  });

  test('bad ids 400, unknown and inactive members 404, following oneself 400 self_connection', async () => {
    const me = await world.user();
    const gone = await world.user({ is_active: false });
    for (const [method, path] of paths(0))
      assertError(await world.request(method!, path!, { token: me.token }), 400, 'invalid');
    for (const id of [2_147_483_647, gone.id]) {
      for (const [method, path] of paths(id)) {
        assertError(await world.request(method!, path!, { token: me.token }), 404, 'not_found');
      }
    }
    assertError(await follow(me, me), 400, 'self_connection');
    assert.equal((await rowOf(me.id)).followings_count, 0);
  });

  test('bad list parameters are a 400 naming the field', async () => {
    const them = await world.user();
    for (const query of ['mutual=2', 'mutual=x', 'limit=0', 'offset=-1', 'cursor=bm9wZQ']) {
      const response = await world.get(`/api/v2/user/${them.id}/followers/?${query}`, null);
      assertError(response, 400, 'invalid');
      assert.ok(response.body.errors, query);
    }
  });
});

describe('following', () => {
  test('follow is a toggle: 204 each time; is_followed, is_follower and both counters follow it', async () => {
    const me = await world.user();
    const them = await world.user();
    const check = async (following: boolean) => {
      assert.deepEqual((await world.get(`/api/v2/user/${them.id}/is_followed/`, me.token)).body, {
        is_followed: following,
      });
      assert.deepEqual((await world.get(`/api/v2/user/${me.id}/is_follower/`, them.token)).body, {
        is_follower: following,
      });
      assert.deepEqual((await world.get(`/api/v2/user/${them.id}/is_follower/`, me.token)).body, {
        is_follower: false,
      });
      assert.equal((await rowOf(me.id)).followings_count, following ? 1 : 0);
      assert.equal((await rowOf(them.id)).followers_count, following ? 1 : 0);
    };
    await check(false);
    const first = await follow(me, them);
    assert.equal(first.status, 204);
    assert.equal(first.text, '');
    await check(true);
    assert.equal((await follow(me, them)).status, 204);
    await check(false);
    assert.equal((await follow(me, them)).status, 204);
    await check(true);
  });

  test('followers and followings: newest first, my status and the follow counters on each user', async () => {
    const star = await world.user();
    const fans = [await world.user(), await world.user(), await world.user()];
    for (const fan of fans) assert.equal((await follow(fan, star)).status, 204);
    const viewer = fans[0]!;
    await follow(viewer, fans[2]!); // the viewer follows the last fan: "followed" on that one
    await follow(star, fans[1]!);

    const followers = await world.get(`/api/v2/user/${star.id}/followers/`, viewer.token);
    assert.equal(followers.status, 200, followers.text);
    assert.deepEqual(followers.body, {
      count: 3,
      next: null,
      previous: null,
      results: [
        expectedUser(await rowOf(fans[2]!.id), 'followed', 'follow'),
        expectedUser(await rowOf(fans[1]!.id), null, 'follow'),
        expectedUser(await rowOf(fans[0]!.id), null, 'follow'), // myself: no status
      ],
    });
    const followings = await world.get(`/api/v2/user/${viewer.id}/followings/`, null);
    assert.deepEqual(ids(followings), [fans[2]!.id, star.id]);
    assert.equal(followings.body.count, 2);
    assert.equal(followings.body.results[1].followers_counter, 3);
    assert.equal(followings.body.results[1].followings_counter, 1);
  });

  test('mutual: followers who follow me too (1) or not (0); followings I follow too (1) or not (0)', async () => {
    const me = await world.user();
    const x = await world.user();
    const [a, b, c] = [await world.user(), await world.user(), await world.user()];
    for (const u of [a, b, c]) await follow(u, x); // a, b, c follow X
    await follow(a, me); // a follows me too
    for (const u of [a, b, c]) await follow(x, u); // X follows a, b, c
    await follow(me, c); // I follow c too
    const list = async (path: string, token: string | null) => {
      const page = await world.get(path, token);
      assert.equal(page.status, 200, page.text);
      assert.equal(page.body.count, page.body.results.length);
      return [...ids(page)].sort((p: number, q: number) => p - q);
    };
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followers/?mutual=1`, me.token), [a.id]);
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followers/?mutual=0`, me.token), [b.id, c.id]);
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followings/?mutual=1`, me.token), [c.id]);
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followings/?mutual=0`, me.token), [a.id, b.id]);
    // Nobody is in a relation with an anonymous visitor.
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followers/?mutual=1`, null), []);
    assert.deepEqual(await list(`/api/v2/user/${x.id}/followers/?mutual=0`, null), [a.id, b.id, c.id]);
  });

  test('50 clients toggling the same pairs at once leave exact counters and no duplicate rows', async () => {
    const targets = [await world.user(), await world.user()];
    const clients = [];
    for (let i = 0; i < 10; i++) clients.push(await world.user());
    const presses: Array<Promise<ApiResponse>> = [];
    // 50 concurrent presses: each client presses each target 2 or 3 times, interleaved.
    for (let round = 0; round < 3; round++) {
      for (const [i, client] of clients.entries()) {
        for (const target of targets) if (round < 2 || i % 2 === 0) presses.push(follow(client, target));
      }
    }
    assert.equal(presses.length, 50);
    const answers = await Promise.all(presses);
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 204),
    );
    const { rows: duplicates } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (SELECT follower_id, followed_id FROM follows GROUP BY 1, 2 HAVING count(*) > 1) d`.execute(
      world.db,
    );
    assert.equal(duplicates[0]!.n, 0);
    for (const target of targets) {
      const { rows } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM follows WHERE followed_id = ${target.id}`.execute(world.db);
      // Odd clients pressed twice (back to nothing), even clients three times (following).
      assert.equal(rows[0]!.n, 5);
      assert.equal((await rowOf(target.id)).followers_count, 5);
    }
    for (const [i, client] of clients.entries()) {
      assert.equal((await rowOf(client.id)).followings_count, i % 2 === 0 ? 2 : 0);
    }
  });
});

describe('pages of a large list', () => {
  let star: Member;
  const N = 2300;
  before(async () => {
    star = await world.user();
    // N followers spread over about 60 days, in one statement; the trigger keeps the per-day counts.
    await sql`
      WITH s AS (
        INSERT INTO users (username, real_name)
        SELECT 'follower_' || ${star.id} || '_' || g, 'Follower ' || g FROM generate_series(1, ${N}) g
        RETURNING id
      )
      INSERT INTO follows (follower_id, followed_id, created)
      SELECT id, ${star.id}, now() - (id % 997) * interval '87 minutes' - (id % 13) * interval '1 ms' FROM s`.execute(
      world.db,
    );
    await sql`UPDATE users SET followers_count = ${N} WHERE id = ${star.id}`.execute(world.db);
    await sql`UPDATE users SET followings_count = 1 WHERE username LIKE ${`follower_${star.id}_%`}`.execute(world.db);
    // Users written by hand-made SQL get their list JSON as the seed's do.
    await renderStoredUsers(world.db, star.id);
  });
  const expectedIds = async (offset: number, limit: number) => {
    const { rows } = await sql<{ id: number }>`
      SELECT follower_id AS id FROM follows WHERE followed_id = ${star.id}
      ORDER BY created DESC, follower_id DESC LIMIT ${limit} OFFSET ${offset}`.execute(world.db);
    return rows.map((r) => r.id);
  };

  test('deep offsets (through the per-day counts) give the same page as a plain skip', async () => {
    for (const offset of [0, 1999, 2000, 2001, 2250, 2299]) {
      const page = await world.get(`/api/v2/user/${star.id}/followers/?limit=20&offset=${offset}`, null);
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(ids(page), await expectedIds(offset, 20), `offset ${offset}`);
      assert.equal(page.body.count, N);
    }
  });

  test('next links walk the whole list once with cursors; an edited link serves what it asks for', async () => {
    const seen: number[] = [];
    let url: string | null = `/api/v2/user/${star.id}/followers/?limit=100`;
    let pages = 0;
    while (url) {
      const page: ApiResponse = await world.get(url, null);
      seen.push(...ids(page));
      pages += 1;
      url = page.body.next;
      if (url) assert.ok(new URL(url).searchParams.get('cursor'));
    }
    assert.equal(pages, Math.ceil(N / 100));
    assert.deepEqual(seen, await expectedIds(0, N));
    const first = await world.get(`/api/v2/user/${star.id}/followers/?limit=20`, null);
    const edited = new URL(first.body.next);
    edited.searchParams.set('offset', '15');
    assert.deepEqual(ids(await world.get(edited.toString(), null)), await expectedIds(15, 20));
  });
});

describe('modes', () => {
  test('switching follow_enabled keeps both graphs and switches what every endpoint shows', async () => {
    const a = await world.user();
    const b = await world.user();
    await follow(a, b);
    await world.setPreferences({ follow_enabled: false });
    try {
      await world.act(a.token, b.id, 'request');
      await world.act(b.token, a.id, 'accept');
      const inFriendship = await world.get(`/api/v2/user/${b.id}/`, a.token);
      assert.equal(inFriendship.body.connection_status, 'connected');
      assert.equal(inFriendship.body.followers_counter, null);
      assert.equal(inFriendship.body.followings_counter, null);
      assert.equal(inFriendship.body.connections_counter, 1);
      assert.deepEqual((await world.post('/api/v2/user/connection/statuses/', a.token, { users: [b.id] })).body, {
        connection_statuses: { [b.id]: 'connected' },
      });
      assert.deepEqual(ids(await world.get(`/api/v2/user/${a.id}/connections/`, null)), [b.id]);
      assert.equal((await world.get(`/api/v2/user/${a.id}/counters/`, a.token)).body.followers, null);
    } finally {
      await world.setPreferences({ follow_enabled: true });
    }
    const inFollow = await world.get(`/api/v2/user/${b.id}/`, a.token);
    assert.equal(inFollow.body.connection_status, 'followed');
    assert.equal(inFollow.body.followers_counter, 1);
    assert.equal(inFollow.body.followings_counter, 0);
    assert.equal((await world.get(`/api/v2/user/${a.id}/`, b.token)).body.connection_status, null);
    assert.deepEqual((await world.get(`/api/v2/user/${b.id}/connection_status/`, a.token)).body, {
      connection_status: 'followed',
    });
    assert.deepEqual((await world.post('/api/v2/user/connection/statuses/', a.token, { users: [b.id] })).body, {
      connection_statuses: { [b.id]: 'followed' },
    });
    assert.deepEqual(ids(await world.get(`/api/v2/user/${b.id}/followers/`, null)), [a.id]);
    const counters = await world.get(`/api/v2/user/${b.id}/counters/`, null);
    assert.equal(counters.body.followers, 1);
    assert.equal(counters.body.followings, 0);
    const me = await world.get('/api/v2/user/me/', a.token);
    assert.equal(me.body.followings_counter, 1);
    const listed = await world.get(`/api/v2/user/?search=${b.username}`, a.token);
    assert.equal(listed.body.results[0].connection_status, 'followed');
    assert.equal(listed.body.results[0].followers_counter, 1);
    // And back again: the connection is still there.
    await world.setPreferences({ follow_enabled: false });
    try {
      assert.equal((await world.get(`/api/v2/user/${b.id}/`, a.token)).body.connection_status, 'connected');
    } finally {
      await world.setPreferences({ follow_enabled: true });
    }
  });
});

describe('what a follow tells the world', () => {
  test('a user_follow notification with the follower; an unfollow takes the unread one away, a read one stays', async () => {
    const fan = await world.user();
    const star = await world.user();
    await follow(fan, star);
    const listed = await world.get('/api/v2/notification/', star.token); // listing marks it read
    assert.equal(listed.body.results[0].aggregated[0].type, 'user_follow');
    assert.deepEqual(listed.body.results[0].aggregated[0].follower, expectedUser(await rowOf(fan.id), null, 'follow'));
    await follow(fan, star); // unfollow: the read notification stays as history
    assert.equal((await world.get('/api/v2/notification/', star.token)).body.results.length, 1);
    await follow(fan, star); // follow again: a new, unread one
    assert.equal((await world.get('/api/v2/notification/unseen/count/', star.token)).body.count, 1);
    await follow(fan, star); // unfollow before it was read: gone
    assert.equal((await world.get('/api/v2/notification/unseen/count/', star.token)).body.count, 0);
    assert.equal((await world.get('/api/v2/notification/', star.token)).body.results.length, 1);
  });

  test('the followed member gets the user_follow interaction on the realtime socket', async () => {
    const fan = await world.user();
    const star = await world.user();
    const socket = await SocketClient.open(world.baseUrl, star.token);
    await follow(fan, star);
    const [message] = await socket.waitFor(1);
    assert.equal(message.type, 'interaction');
    assert.equal(message.data.activity_type, 'user_follow');
    assert.equal(message.data.follower.id, fan.id);
    assert.equal(message.data.follower.followings_counter, 1);
    assert.equal(message.data.connection.event, 'connection.follow');
    assert.equal(message.data.count_interactions, 1);
    socket.close();
  });

  test('connection.follow and connection.unfollow reach a webhook endpoint, signed', async () => {
    const receiver = await Receiver.start();
    const admin = await world.adminToken();
    const created = await world.post('/api/v2/webhook/endpoint/', admin, {
      target: receiver.url,
      events: [{ type: 'connection.follow' }, { type: 'connection.unfollow' }],
    });
    assert.equal(created.status, 201, created.text);
    const secret = (await world.post(`/api/v2/webhook/endpoint/${created.body.id}/secret/reveal/`, admin)).body
      .signing_secret as string;
    const fan = await world.user();
    const star = await world.user();
    await follow(fan, star);
    await follow(fan, star);
    const worker = new WebhookWorker(world.db, { config: TEST_WEBHOOKS });
    while ((await worker.runOnce()) > 0) {
      // deliver everything due
    }
    // One endpoint gets up to four at once, in any order: event_id orders them.
    const mine = receiver.received
      .filter((r) => r.json?.data?.from_user?.id === fan.id)
      .sort((x, y) => x.json.event_id - y.json.event_id);
    assert.deepEqual(
      mine.map((r) => [r.json.type, r.json.data.from_user.id, r.json.data.to_user.id]),
      [
        ['connection.follow', fan.id, star.id],
        ['connection.unfollow', fan.id, star.id],
      ],
    );
    assert.equal(mine[0]!.json.data.to_user.followers_counter, 1);
    assert.equal(mine[1]!.json.data.to_user.followers_counter, 0);
    for (const r of mine) {
      const header = String(r.headers['selfcommunity-signature']);
      const t = /t=(\d+)/.exec(header)?.[1];
      const v1 = /v1=([0-9a-f]+)/.exec(header)?.[1];
      assert.equal(v1, createHmac('sha256', secret).update(`${t}.${r.body}`).digest('hex'));
    }
    await receiver.stop();
  });
});
