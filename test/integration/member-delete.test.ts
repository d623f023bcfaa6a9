import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { checkCommunity } from '../../src/db/seed.js';
import { AppError } from '../../src/domain/errors.js';
import { deleteMember } from '../../src/services/member-admin.js';
import { embeddedEnv, runCli } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';
import { type ApiResponse, type Member, ok, World } from '../helpers/world.js';

// Deleting a member (DELETE /api/v2/user/{id}/, kith user delete): every relation dissolved with its
// event, nobody notified, counters exact, the row a tombstone without personal fields.

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const tempDir = tempDirs('kith-member-delete-');

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
}

const remove = (id: number, token: string | null) => world.request('DELETE', `/api/v2/user/${id}/`, { token });
const follow = (who: Member, them: { id: number }) =>
  world.request('POST', `/api/v2/user/${them.id}/follow/`, {
    token: who.token,
    headers: { 'content-type': 'application/json' },
    raw: '',
  });
const rowOf = (id: number) => world.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const notificationSequence = async () =>
  Number((await sql<{ n: string }>`SELECT last_value AS n FROM notifications_id_seq`.execute(world.db)).rows[0]?.n);
const lastId = async (table: 'events' | 'notifications') =>
  Number(
    (
      await world.db
        .selectFrom(table)
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst()
    )?.id ?? 0,
  );

describe('DELETE /api/v2/user/{id}/', () => {
  test('dissolves every relation through its plan, erases the member, and nobody is notified', async () => {
    const admin = await world.adminToken();
    const gone = await world.user({
      email: 'gone@example.com',
      ext_id: 'crm-gone',
      real_name: 'Gone Away',
      bio: 'a bio',
      location: 'Turin',
      avatar: 'https://example.com/a.png',
      date_of_birth: '1990-01-02',
      password_hash: 'hash',
    });
    const [friend, asked, asker, rejecter, rejected, follower] = [
      await world.user(),
      await world.user(),
      await world.user(),
      await world.user(),
      await world.user(),
      await world.user(),
    ];
    // friend: connected; asked: gone's request waits; asker: their request waits for gone;
    // rejecter: rejected gone's request; rejected: gone rejected their request.
    await ok(world.act(gone.token, friend.id, 'request'));
    await ok(world.act(friend.token, gone.id, 'accept'));
    await ok(world.act(gone.token, asked.id, 'request'));
    await ok(world.act(asker.token, gone.id, 'request'));
    await ok(world.act(gone.token, rejecter.id, 'request'));
    await ok(world.act(rejecter.token, gone.id, 'reject'));
    await ok(world.act(rejected.token, gone.id, 'request'));
    await ok(world.act(gone.token, rejected.id, 'reject'));
    // Follows either way (made in follow mode, then back to friendship mode).
    await world.setPreferences({ follow_enabled: true });
    await ok(follow(gone, friend), 204);
    await ok(follow(follower, gone), 204);
    await world.setPreferences({ follow_enabled: false });
    await world.db
      .insertInto('refresh_tokens')
      .values({ token_hash: `hash-of-${gone.id}`, user_id: gone.id, expires: new Date(Date.now() + 86_400_000) })
      .execute();
    const notified = await world.db
      .selectFrom('notifications')
      .select('id')
      .where((eb) => eb.or([eb('user_id', '=', gone.id), eb('actor_id', '=', gone.id)]))
      .execute();
    assert.ok(notified.length >= 4, `notifications before: ${notified.length}`);
    const eventsBefore = await lastId('events');
    const notificationsBefore = await notificationSequence();

    await ok(remove(gone.id, admin), 204);

    // An event per dissolved relation, each the move the plan makes, user.deleted, and no notification made.
    const events = await world.db
      .selectFrom('events')
      .select(['type', 'from_user_id', 'to_user_id'])
      .where('id', '>', eventsBefore)
      .orderBy('id')
      .execute();
    const made = events.map((e) => `${e.type} ${e.from_user_id}->${e.to_user_id}`).sort();
    const expected = [
      `connection.deleted ${gone.id}->${friend.id}`,
      `connection_request.cancelled ${gone.id}->${asked.id}`,
      `connection_request.cancelled ${asker.id}->${gone.id}`,
      `connection_request.cancelled ${gone.id}->${rejecter.id}`,
      `connection_request.cancelled ${rejected.id}->${gone.id}`,
      `connection.unfollow ${gone.id}->${friend.id}`,
      `connection.unfollow ${follower.id}->${gone.id}`,
      `user.deleted ${gone.id}->${gone.id}`,
    ].sort();
    assert.deepEqual(made, expected);
    // None made and deleted again either (nobody got a realtime message): the ids were not used.
    assert.equal(await notificationSequence(), notificationsBefore, 'no notification made');
    const left = await world.db
      .selectFrom('notifications')
      .select('id')
      .where((eb) => eb.or([eb('user_id', '=', gone.id), eb('actor_id', '=', gone.id)]))
      .execute();
    assert.deepEqual(left, []);

    // Counters, per-day counts and stored JSON equal the rows, for everyone.
    assert.deepEqual(await checkCommunity(world.db), {
      wrongCounters: 0,
      overlaps: 0,
      wrongDays: 0,
      staleJson: 0,
      wrongFollowCounters: 0,
      wrongFollowDays: 0,
      wrongWithheld: 0,
    });
    for (const other of [friend, asked, asker, rejecter, rejected, follower]) {
      const row = await rowOf(other.id);
      const counters = [
        row.connections_count,
        row.requests_sent_count,
        row.requests_received_count,
        row.followers_count,
        row.followings_count,
      ];
      assert.deepEqual(counters, [0, 0, 0, 0, 0], `counters of ${other.id}`);
    }

    // The tombstone: personal fields erased, the id and the date joined kept.
    const tomb = await rowOf(gone.id);
    assert.equal(tomb.username, `deleted_${gone.id}`);
    assert.deepEqual(
      [tomb.email, tomb.ext_id, tomb.password_hash, tomb.avatar, tomb.cover, tomb.date_of_birth, tomb.role],
      [null, null, null, null, null, null, null],
    );
    assert.deepEqual([tomb.real_name, tomb.bio, tomb.location], ['', '', '']);
    assert.deepEqual([tomb.is_active, tomb.deleted], [false, true]);
    assert.equal(tomb.date_joined.toISOString(), gone.date_joined.toISOString());
    const counters = [tomb.connections_count, tomb.requests_sent_count, tomb.requests_received_count];
    assert.deepEqual(counters, [0, 0, 0]);
    const tokens = await world.db
      .selectFrom('refresh_tokens')
      .select('user_id')
      .where('user_id', '=', gone.id)
      .execute();
    assert.deepEqual(tokens, []);

    // Their token stops working; they are nowhere to be seen.
    assertError(await world.get('/api/v2/user/me/', gone.token), 401, 'authentication_failed');
    assertError(await world.get(`/api/v2/user/${gone.id}/`, admin), 404, 'not_found');
    const search = await ok(world.get(`/api/v2/user/?search=${gone.username}`, admin));
    assert.equal(search.body.count, 0);
    assert.equal((await ok(world.get(`/api/v2/user/${friend.id}/connections/`, friend.token))).body.count, 0);
    assert.equal((await ok(world.get('/api/v2/user/connection/requests/', asked.token))).body.count, 0);
    assert.equal((await ok(world.get('/api/v2/user/connection/requests_sent/', asker.token))).body.count, 0);
    const rejectedList = await ok(world.get('/api/v2/user/connection/requests/?rejected=true', rejecter.token));
    assert.equal(rejectedList.body.count, 0);
    await world.setPreferences({ follow_enabled: true });
    assert.equal((await ok(world.get(`/api/v2/user/${friend.id}/followers/`, friend.token))).body.count, 0);
    assert.equal((await ok(world.get(`/api/v2/user/${follower.id}/followings/`, follower.token))).body.count, 0);
    await world.setPreferences({ follow_enabled: false });

    // Deleted once: a second time is a 404, and the id is never reused.
    assertError(await remove(gone.id, admin), 404, 'not_found');
    const next = await world.user();
    assert.ok(next.id > gone.id);
    // Nobody may take a tombstone's form of name, deleted or not yet.
    for (const username of [`deleted_${gone.id}`, `DELETED_${next.id + 1000}`]) {
      const signup = await world.post('/api/v2/account/create/', admin, {
        username,
        email: `${username}@example.com`,
        password: 'Correct-horse-7',
      });
      assertError(signup, 400, 'invalid');
      assert.deepEqual(signup.body.errors.username, [
        'Usernames of the form deleted_<number> are kept for deleted members.',
      ]);
    }
  });

  test('401 without a token, 403 for a member, 404 for nobody, 400 for oneself', async () => {
    const member = await world.user();
    const other = await world.user();
    assertError(await remove(other.id, null), 401, 'not_authenticated');
    assertError(await remove(other.id, member.token), 403, 'permission_denied');
    assertError(await remove(2_147_483_647, await world.adminToken()), 404, 'not_found');
    assertError(await remove(1, await world.adminToken()), 400, 'self_deletion');
    const helper = await world.user({ role: 'admin' });
    assertError(await remove(helper.id, helper.token), 400, 'self_deletion');
    assert.equal((await rowOf(other.id)).deleted, false);
    // One administrator deletes another; the first stays.
    await ok(remove(helper.id, await world.adminToken()), 204);
    assertError(await remove(1, helper.token), 401, 'authentication_failed');
  });

  test('the last active administrator cannot be deleted (the service, as the CLI calls it)', async () => {
    await assert.rejects(deleteMember(world.db, { id: 1 }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'last_active_admin');
      assert.match(error.detail, /^admin \(id 1\) is the last active administrator/);
      return true;
    });
    assert.equal((await rowOf(1)).is_active, true);
  });
});

describe('kith user delete', () => {
  test('deletes by username or id, in one line; refuses the last administrator; exit 1 on error', async () => {
    const env = embeddedEnv(join(tempDir(), 'data'));
    const help = await runCli(['user', 'delete', '--help'], env);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /delete \(--id N \| --username U\)/);

    const created = await runCli(['user', 'create', '--username', 'leaving'], env);
    assert.equal(created.status, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: number };
    const deleted = await runCli(['user', 'delete', '--username', 'Leaving'], env);
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.equal(deleted.stdout, `user ${id} (leaving) deleted\n`);
    const again = await runCli(['user', 'delete', '--id', String(id)], env);
    assert.deepEqual([again.status, again.stdout, again.stderr], [1, '', `kith: No user with id ${id}.\n`]);
    const last = await runCli(['user', 'delete', '--id', '1'], env);
    assert.equal(last.status, 1);
    assert.equal(last.stderr, 'kith: admin (id 1) is the last active administrator; promote another member first.\n');
  });
});
