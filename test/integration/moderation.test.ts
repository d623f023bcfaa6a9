import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { checkCommunity } from '../../src/db/seed.js';
import { AppError } from '../../src/domain/errors.js';
import { blockMember, liftExpiredBlocks, setActive, setPassword } from '../../src/services/member-admin.js';
import { SocketClient } from '../helpers/socket.js';
import { type ApiResponse, type Member, ok, World } from '../helpers/world.js';

// Moderating members (GET/PATCH /api/v2/moderation/user/, kith user deactivate): a blocked or
// deactivated member is withdrawn as a deleted one is — every relation dissolved with its event,
// nobody notified, counters exact, tokens refused — and only the matching move gives the account back.

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
}

const moderate = (id: number, body: unknown, query = '', token: string | null = admin) =>
  world.request('PATCH', `/api/v2/moderation/user/${id}/${query}`, { token, body });
const list = (query = '', token: string | null = admin) => world.get(`/api/v2/moderation/user/${query}`, token);
const follow = (who: Member, them: { id: number }) =>
  world.request('POST', `/api/v2/user/${them.id}/follow/`, {
    token: who.token,
    headers: { 'content-type': 'application/json' },
    raw: '',
  });
const rowOf = (id: number) => world.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const lastId = async (table: 'events' | 'notifications') =>
  Number(
    (
      await world.db
        .selectFrom(table)
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst()
    )?.id ?? 0,
  );
const notificationSequence = async () =>
  Number((await sql<{ n: string }>`SELECT last_value AS n FROM notifications_id_seq`.execute(world.db)).rows[0]?.n);
const eventsSince = async (id: number) =>
  world.db.selectFrom('events').selectAll().where('id', '>', id).orderBy('id').execute();

/**
 * A member related to six others in every way a pair can be (connected, a request each way, a
 * rejected request each way, follows both ways), with notifications; returns them and the others.
 */
async function entangled() {
  const center = await world.user({ email: `${Date.now()}-${Math.random()}@example.com` });
  const [friend, asked, asker, rejecter, rejected, follower] = [
    await world.user(),
    await world.user(),
    await world.user(),
    await world.user(),
    await world.user(),
    await world.user(),
  ];
  await ok(world.act(center.token, friend.id, 'request'));
  await ok(world.act(friend.token, center.id, 'accept'));
  await ok(world.act(center.token, asked.id, 'request'));
  await ok(world.act(asker.token, center.id, 'request'));
  await ok(world.act(center.token, rejecter.id, 'request'));
  await ok(world.act(rejecter.token, center.id, 'reject'));
  await ok(world.act(rejected.token, center.id, 'request'));
  await ok(world.act(center.token, rejected.id, 'reject'));
  await world.setPreferences({ follow_enabled: true });
  await ok(follow(center, friend), 204);
  await ok(follow(follower, center), 204);
  await world.setPreferences({ follow_enabled: false });
  await world.db
    .insertInto('refresh_tokens')
    .values({ token_hash: `hash-of-${center.id}`, user_id: center.id, expires: new Date(Date.now() + 86_400_000) })
    .execute();
  const others = { friend, asked, asker, rejecter, rejected, follower };
  const expectedEvents = [
    `connection.deleted ${center.id}->${friend.id}`,
    `connection_request.cancelled ${center.id}->${asked.id}`,
    `connection_request.cancelled ${asker.id}->${center.id}`,
    `connection_request.cancelled ${center.id}->${rejecter.id}`,
    `connection_request.cancelled ${rejected.id}->${center.id}`,
    `connection.unfollow ${center.id}->${friend.id}`,
    `connection.unfollow ${follower.id}->${center.id}`,
  ];
  return { center, others, expectedEvents };
}

/** Everything a withdrawal promises, checked against the rows. */
async function assertWithdrawn(
  world: World,
  { center, others }: Awaited<ReturnType<typeof entangled>>,
  since: { events: number; notifications: number },
  expectedEvents: string[],
) {
  const events = await eventsSince(since.events);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.from_user_id}->${e.to_user_id}`).sort(),
    [...expectedEvents].sort(),
  );
  assert.equal(await notificationSequence(), since.notifications, 'no notification made');
  const left = await world.db
    .selectFrom('notifications')
    .select('id')
    .where((eb) => eb.or([eb('user_id', '=', center.id), eb('actor_id', '=', center.id)]))
    .execute();
  assert.deepEqual(left, []);
  assert.deepEqual(await checkCommunity(world.db), {
    wrongCounters: 0,
    overlaps: 0,
    wrongDays: 0,
    staleJson: 0,
    wrongFollowCounters: 0,
    wrongFollowDays: 0,
    wrongWithheld: 0,
  });
  for (const row of [await rowOf(center.id), ...(await Promise.all(Object.values(others).map((o) => rowOf(o.id))))]) {
    const counters = [
      row.connections_count,
      row.requests_sent_count,
      row.requests_received_count,
      row.followers_count,
      row.followings_count,
    ];
    assert.deepEqual(counters, [0, 0, 0, 0, 0], `counters of ${row.id}`);
  }
  const tokens = await world.db
    .selectFrom('refresh_tokens')
    .select('user_id')
    .where('user_id', '=', center.id)
    .execute();
  assert.deepEqual(tokens, []);
  // Refused at the very next request; nowhere to be seen.
  assertError(await world.get('/api/v2/user/me/', center.token), 401, 'authentication_failed');
  assertError(await world.get(`/api/v2/user/${center.id}/`, admin), 404, 'not_found');
  assert.equal((await ok(world.get(`/api/v2/user/?search=${center.username}`, admin))).body.count, 0);
  const { friend, asked, asker } = others;
  assert.equal((await ok(world.get(`/api/v2/user/${friend.id}/connections/`, friend.token))).body.count, 0);
  assert.equal((await ok(world.get('/api/v2/user/connection/requests/', asked.token))).body.count, 0);
  assert.equal((await ok(world.get('/api/v2/user/connection/requests_sent/', asker.token))).body.count, 0);
}

const since = async () => ({ events: await lastId('events'), notifications: await notificationSequence() });

describe('PATCH /api/v2/moderation/user/{id}/', () => {
  test('status b blocks for some days: the member withdrawn, the block recorded, user.updated', async () => {
    const world_ = await entangled();
    const { center } = world_;
    const before = await since();
    const answer = await ok(moderate(center.id, { status: 'b' }, '?days_blocked=3'));
    const row = await rowOf(center.id);
    assert.equal(row.is_active, false);
    assert.ok(row.blocked_at && row.block_expires_at);
    assert.equal(row.days_blocked, 3);
    assert.equal(row.block_expires_at.getTime() - row.blocked_at.getTime(), 3 * 86_400_000);
    assert.deepEqual(
      [answer.body.id, answer.body.status, answer.body.days_blocked, answer.body.blocked_at, answer.body.expire_at],
      [center.id, 'b', 3, row.blocked_at.toISOString(), row.block_expires_at.toISOString()],
    );
    await assertWithdrawn(world, world_, before, [...world_.expectedEvents, `user.updated ${center.id}->${center.id}`]);
    const [updated] = (await eventsSince(before.events)).filter((e) => e.type === 'user.updated');
    assert.equal(updated?.data.status, 'b');
    assert.equal(updated?.data.id, center.id);
  });

  test('status a unblocks: the account comes back, the relations do not', async () => {
    const world_ = await entangled();
    const { center, others } = world_;
    await ok(moderate(center.id, { status: 'b' }));
    const blocked = await rowOf(center.id);
    assert.deepEqual([blocked.is_active, blocked.days_blocked, blocked.block_expires_at], [false, null, null]);
    assert.ok(blocked.blocked_at);
    const before = await lastId('events');
    const answer = await ok(moderate(center.id, { status: 'a' }));
    assert.deepEqual(
      [answer.body.status, answer.body.blocked_at, answer.body.days_blocked, answer.body.expire_at],
      ['a', null, null, null],
    );
    const events = await eventsSince(before);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.status]),
      [['user.updated', 'a']],
    );
    // The account is back, the tokens issued before the block are not: on a route the gate loads the
    // member for, on a list whose statement loads them, on the realtime handshake.
    assertError(await world.get('/api/v2/user/me/', center.token), 401, 'authentication_failed');
    assertError(await world.get('/api/v2/user/connection/requests/', center.token), 401, 'authentication_failed');
    const stranger = await world.user();
    const move = (token: string) => world.post(`/api/v2/user/${stranger.id}/connection/request/`, token);
    assertError(await move(center.token), 401, 'authentication_failed');
    await assert.rejects(SocketClient.open(world.baseUrl, center.token));
    const fresh = await world.tokenFor(center.id);
    await ok(world.get('/api/v2/user/me/', fresh));
    await ok(world.get('/api/v2/user/connection/requests/', fresh));
    (await SocketClient.open(world.baseUrl, fresh)).socket.close();
    assert.equal(
      (await ok(world.get(`/api/v2/user/${others.friend.id}/connections/`, others.friend.token))).body.count,
      0,
    );
    assert.equal((await rowOf(center.id)).connections_count, 0);
    // Unblocking an active member changes nothing and records nothing.
    await ok(moderate(center.id, { status: 'a' }));
    assert.equal(await lastId('events'), events.at(-1)?.id);
    // A write with the fresh token goes through (with the old one it was refused above).
    await ok(move(fresh));
  });

  test('a member unblocked this very second signs in at once: the token endpoint issues past the cut-off', async () => {
    const member = await world.user();
    await setPassword(world.db, { id: member.id }, 'Correct-horse-7');
    await ok(moderate(member.id, { status: 'b' }));
    await ok(moderate(member.id, { status: 'a' }));
    const granted = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: member.username,
      password: 'Correct-horse-7',
    });
    assert.equal(granted.status, 200, granted.text);
    await ok(world.get('/api/v2/user/me/', granted.body.access_token));
    assertError(await world.get('/api/v2/user/me/', member.token), 401, 'authentication_failed');
  });

  test('blocking a blocked member starts a new block from now', async () => {
    const member = await world.user();
    await ok(moderate(member.id, { status: 'b' }, '?days_blocked=2'));
    const first = await rowOf(member.id);
    const again = await ok(moderate(member.id, { status: 'b' }, '?days_blocked=forever'));
    const second = await rowOf(member.id);
    assert.deepEqual([again.body.days_blocked, again.body.expire_at, second.days_blocked], [null, null, null]);
    assert.ok(second.blocked_at && first.blocked_at && second.blocked_at >= first.blocked_at);
  });

  test('status d deletes (204, user.deleted with the member as they were)', async () => {
    const member = await world.user({ ext_id: `crm-${Date.now()}` });
    const before = await lastId('events');
    const answer = await moderate(member.id, { status: 'd' }, '?hard=1');
    assert.equal(answer.status, 204, answer.text);
    const events = await eventsSince(before);
    assert.deepEqual(
      events.map((e) => [e.type, e.data.id, e.data.ext_id, e.data.status]),
      [['user.deleted', member.id, member.ext_id, 'd']],
    );
    assert.equal((await rowOf(member.id)).username, `deleted_${member.id}`);
    assertError(await moderate(member.id, { status: 'b' }), 404, 'not_found');
  });

  test('401 without a token, 403 for a member or a moderator, 404 for nobody, 400 for bad input', async () => {
    const member = await world.user();
    const moderator = await world.user({ role: 'moderator' });
    const target = await world.user();
    assertError(await moderate(target.id, { status: 'b' }, '', null), 401, 'not_authenticated');
    assertError(await moderate(target.id, { status: 'b' }, '', member.token), 403, 'permission_denied');
    assertError(await moderate(target.id, { status: 'b' }, '', moderator.token), 403, 'permission_denied');
    assertError(await moderate(2_147_483_647, { status: 'b' }), 404, 'not_found');
    for (const [body, query] of [
      [{ status: 'u' }, ''],
      [{ status: 'x' }, ''],
      [{}, ''],
      [{ status: 'b' }, '?days_blocked=0'],
      [{ status: 'b' }, '?days_blocked=-1'],
      [{ status: 'b' }, '?days_blocked=100000'],
      [{ status: 'b' }, '?days_blocked=days'],
      [{ status: 'a' }, '?days_blocked=3'],
      [{ status: 'b' }, '?hard=1'],
      [{ status: 'd' }, '?hard=2'],
    ] as const) {
      assertError(await moderate(target.id, body, query), 400, 'invalid');
    }
    const bad = await world.request('PATCH', `/api/v2/moderation/user/${target.id}/`, {
      token: admin,
      headers: { 'content-type': 'application/json' },
      raw: '{"status":',
    });
    assert.equal(bad.status, 400, bad.text);
    assertError(await moderate(1, { status: 'b' }), 400, 'self_block');
    assertError(await moderate(1, { status: 'd' }), 400, 'self_deletion');
    // Nothing of it changed the target.
    const row = await rowOf(target.id);
    assert.deepEqual([row.is_active, row.blocked_at, row.deleted], [true, null, false]);
    await ok(world.get('/api/v2/user/me/', target.token));
  });

  test('the last active administrator cannot be blocked (the service, as the CLI calls it)', async () => {
    await assert.rejects(blockMember(world.db, { id: 1 }, undefined), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'last_active_admin');
      return true;
    });
    assert.equal((await rowOf(1)).is_active, true);
    // Another administrator may be blocked, and their token stops working.
    const other = await world.user({ role: 'admin' });
    await ok(moderate(other.id, { status: 'b' }));
    assertError(await list('', other.token), 401, 'authentication_failed');
  });
});

describe('deactivation and blocking stay distinct', () => {
  test('deactivating withdraws the member as blocking does; activating gives the account back', async () => {
    const world_ = await entangled();
    const { center } = world_;
    const before = await since();
    const { changed } = await setActive(world.db, { id: center.id }, false);
    assert.equal(changed, true);
    await assertWithdrawn(world, world_, before, [...world_.expectedEvents, `user.updated ${center.id}->${center.id}`]);
    assert.equal((await rowOf(center.id)).blocked_at, null);
    // A deactivated member is neither blocked nor unblocked by a moderator.
    assertError(await moderate(center.id, { status: 'b' }), 400, 'member_deactivated');
    assertError(await moderate(center.id, { status: 'a' }), 400, 'member_deactivated');
    const shown = (await ok(list(`?search=${center.username}`))).body.results[0];
    assert.deepEqual([shown.status, shown.blocked_at], ['b', null]);
    assert.equal((await setActive(world.db, { id: center.id }, true)).changed, true);
    assertError(await world.get('/api/v2/user/me/', center.token), 401, 'authentication_failed');
    await ok(world.get('/api/v2/user/me/', await world.tokenFor(center.id)));
  });

  test('a blocked member is unblocked, not activated or deactivated', async () => {
    const member = await world.user();
    await ok(moderate(member.id, { status: 'b' }));
    for (const active of [true, false]) {
      await assert.rejects(setActive(world.db, { id: member.id }, active), (error: unknown) => {
        assert.ok(error instanceof AppError);
        assert.equal(error.code, 'member_blocked');
        return true;
      });
    }
    assert.equal((await rowOf(member.id)).is_active, false);
  });
});

describe('the end of a block', () => {
  test('a block whose days are over is lifted by the sweep, with user.updated; one for ever is not', async () => {
    const timed = await world.user();
    const forever = await world.user();
    const notYet = await world.user();
    await ok(moderate(timed.id, { status: 'b' }, '?days_blocked=1'));
    await ok(moderate(forever.id, { status: 'b' }));
    await ok(moderate(notYet.id, { status: 'b' }, '?days_blocked=5'));
    await world.db
      .updateTable('users')
      .set({ blocked_at: new Date(Date.now() - 2 * 86_400_000), block_expires_at: new Date(Date.now() - 86_400_000) })
      .where('id', '=', timed.id)
      .execute();
    const before = await lastId('events');
    const lifted = await liftExpiredBlocks(world.db);
    assert.deepEqual(
      lifted.map((m) => m.id),
      [timed.id],
    );
    assert.deepEqual(
      (await eventsSince(before)).map((e) => [e.type, e.from_user_id, e.data.status]),
      [['user.updated', timed.id, 'a']],
    );
    assert.deepEqual(
      [(await rowOf(timed.id)).is_active, (await rowOf(forever.id)).is_active, (await rowOf(notYet.id)).is_active],
      [true, false, false],
    );
    await ok(world.get('/api/v2/user/me/', await world.tokenFor(timed.id)));
    assert.deepEqual(await liftExpiredBlocks(world.db), []);
  });
});

describe('GET /api/v2/moderation/user/', () => {
  test('lists members with their block, filters, orders and pages them; deleted members are left out', async () => {
    const tag = `mod${process.pid}${Date.now() % 100000}`;
    const a = await world.user({ username: `${tag}_a` });
    const b = await world.user({ username: `${tag}_b` });
    const c = await world.user({ username: `${tag}_c`, real_name: `${tag} Cee` });
    const d = await world.user({ username: `${tag}_d` });
    await ok(moderate(a.id, { status: 'b' }, '?days_blocked=10'));
    await ok(moderate(b.id, { status: 'b' }, '?days_blocked=2'));
    await ok(moderate(c.id, { status: 'b' }));
    await ok(moderate(d.id, { status: 'd' }), 204);

    const all = await ok(list(`?search=${tag}`));
    assert.equal(all.body.count, 3);
    const ids = (r: ApiResponse) => r.body.results.map((u: { id: number }) => u.id);
    // Newest members first by default.
    assert.deepEqual(ids(all), [c.id, b.id, a.id]);
    const first = all.body.results[2];
    assert.deepEqual([first.username, first.status, first.days_blocked], [a.username, 'b', 10]);
    assert.equal(new Date(first.expire_at).getTime() - new Date(first.blocked_at).getTime(), 10 * 86_400_000);
    assert.equal(all.body.results[0].expire_at, null);

    assert.deepEqual(ids(await ok(list(`?search=${tag}&days_blocked=days`))), [b.id, a.id]);
    assert.deepEqual(ids(await ok(list(`?search=${tag}&days_blocked=forever`))), [c.id]);
    assert.deepEqual(ids(await ok(list(`?search=${tag}&order_by=expire_at`))), [b.id, a.id, c.id]);
    assert.deepEqual(ids(await ok(list(`?search=${tag}&order_by=-expire_at`))), [a.id, b.id, c.id]);
    assert.deepEqual(ids(await ok(list(`?search=${tag}&order_by=blocked_at`))), [a.id, b.id, c.id]);
    assert.deepEqual(ids(await ok(list(`?search=${tag.toUpperCase()}%20CEE`))), [c.id]);
    const page = await ok(list(`?search=${tag}&limit=1&offset=1`));
    assert.deepEqual([page.body.count, ids(page)], [3, [b.id]]);
    assert.match(page.body.next, /offset=2/);
    assert.match(page.body.previous, /moderation\/user\//);
  });

  test('401 without a token, 403 for a member, 400 for bad parameters', async () => {
    const member = await world.user();
    assertError(await list('', null), 401, 'not_authenticated');
    assertError(await list('', member.token), 403, 'permission_denied');
    for (const query of ['?limit=0', '?offset=-1', '?days_blocked=3', '?order_by=username', '?limit=x']) {
      assertError(await list(query), 400, 'invalid');
    }
  });
});
