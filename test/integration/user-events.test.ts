import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setActive, setPassword, setRole } from '../../src/services/member-admin.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { Receiver } from '../helpers/receiver.js';
import { type ApiResponse, ok, TEST_WEBHOOKS, World } from '../helpers/world.js';

// The user events (user.created, user.updated, user.deleted): recorded in the transaction of the
// change, subscribable by webhook endpoints, delivered like the connection events, with the user as
// the reference page's payload shows them.

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const USER_TYPES = ['user.created', 'user.updated', 'user.deleted'];

/** The keys of the reference page's user payload (webhooks/ls_user_events.md), written out from it. */
const REFERENCE_KEYS = [
  'id',
  'username',
  'real_name',
  'email',
  'email_isvalid',
  'date_joined',
  'bio',
  'location',
  'location_lat_lng',
  'position_lat_lng',
  'date_of_birth',
  'description',
  'gender',
  'status',
  'website',
  'avatar',
  'cover',
  'ext_id',
  'tags',
  'reputation',
  'followings_counter',
  'followers_counter',
  'posts_counter',
  'discussions_counter',
  'statuses_counter',
  'polls_counter',
];

const lastEventId = async () =>
  Number(
    (
      await world.db
        .selectFrom('events')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst()
    )?.id ?? 0,
  );
const userEventsSince = async (id: number) =>
  (await world.db.selectFrom('events').selectAll().where('id', '>', id).orderBy('id').execute()).filter((e) =>
    e.type.startsWith('user.'),
  );
const produced = new Set<string>();
async function expectEvents(since: number, expected: Array<[string, number]>) {
  const events = await userEventsSince(since);
  assert.deepEqual(
    events.map((e) => [e.type, e.from_user_id]),
    expected,
  );
  for (const e of events) {
    produced.add(e.type);
    assert.equal(e.to_user_id, e.from_user_id);
  }
  return events;
}

function created(response: ApiResponse) {
  assert.equal(response.status, 201, response.text);
  return response.body.id as number;
}

describe('user.created', () => {
  test('POST /api/v2/account/create/ and /api/v2/sso/signup/ record it with the new member', async () => {
    const since = await lastEventId();
    const first = created(
      await world.post('/api/v2/account/create/', admin, {
        username: `ev_a_${process.pid}`,
        email: `ev_a_${process.pid}@example.com`,
        password: 'Correct-horse-7',
      }),
    );
    const second = created(
      await world.post('/api/v2/sso/signup/', admin, { username: `ev_b_${process.pid}`, ext_id: `crm-${process.pid}` }),
    );
    const events = await expectEvents(since, [
      ['user.created', first],
      ['user.created', second],
    ]);
    const [a, b] = events.map((e) => e.data);
    assert.deepEqual(
      [a?.username, a?.email, a?.email_isvalid, a?.status],
      [`ev_a_${process.pid}`, `ev_a_${process.pid}@example.com`, true, 'a'],
    );
    assert.deepEqual([b?.ext_id, b?.email, b?.email_isvalid], [`crm-${process.pid}`, null, false]);
    for (const key of REFERENCE_KEYS) assert.ok(a && key in a, `payload key ${key}`);
  });

  test('a refused signup records nothing', async () => {
    const taken = await world.user();
    const since = await lastEventId();
    const answer = await world.post('/api/v2/account/create/', admin, {
      username: taken.username,
      email: 'other@example.com',
      password: 'Correct-horse-7',
    });
    assert.equal(answer.status, 400, answer.text);
    await expectEvents(since, []);
  });
});

describe('user.updated', () => {
  test('a profile change records it with the member after the change; a PATCH that changes nothing does not', async () => {
    const member = await world.user();
    const since = await lastEventId();
    const patch = (body: unknown, token = member.token) =>
      world.request('PATCH', `/api/v2/user/${member.id}/`, { token, body });
    await ok(patch({ bio: 'Analyst of engines', location: 'London' }));
    await ok(patch({ bio: 'Analyst of engines' }));
    await ok(patch({}));
    await ok(patch({ website: 'https://example.com' }, admin));
    const events = await expectEvents(since, [
      ['user.updated', member.id],
      ['user.updated', member.id],
    ]);
    assert.deepEqual(
      events.map((e) => [e.data.bio, e.data.location, e.data.website]),
      [
        ['Analyst of engines', 'London', ''],
        ['Analyst of engines', 'London', 'https://example.com'],
      ],
    );
  });

  test('role and active changes record it; a password change and a change to the same value do not', async () => {
    const member = await world.user();
    const since = await lastEventId();
    await setRole(world.db, { id: member.id }, 'editor');
    await setRole(world.db, { id: member.id }, 'editor');
    await setPassword(world.db, { id: member.id }, 'Correct-horse-7');
    await setActive(world.db, { id: member.id }, false);
    await setActive(world.db, { id: member.id }, false);
    await setActive(world.db, { id: member.id }, true);
    const events = await expectEvents(since, [
      ['user.updated', member.id],
      ['user.updated', member.id],
      ['user.updated', member.id],
    ]);
    assert.deepEqual(
      events.map((e) => e.data.status),
      ['a', 'b', 'a'],
    );
  });
});

describe('user.deleted', () => {
  test('DELETE /api/v2/user/{id}/ records it with the member as they were, status d', async () => {
    const member = await world.user({ email: `gone${process.pid}@example.com`, ext_id: `crm-gone-${process.pid}` });
    const since = await lastEventId();
    await ok(world.request('DELETE', `/api/v2/user/${member.id}/`, { token: admin }), 204);
    const [event] = await expectEvents(since, [['user.deleted', member.id]]);
    assert.deepEqual(
      [event?.data.username, event?.data.email, event?.data.ext_id, event?.data.status],
      [member.username, member.email, member.ext_id, 'd'],
    );
  });
});

describe('webhooks', () => {
  test('an endpoint subscribes to the user events and receives them, signed, in the order of their events', async () => {
    const receiver = await Receiver.start();
    try {
      const endpoint = await world.post('/api/v2/webhook/endpoint/', admin, {
        target: receiver.url,
        events: USER_TYPES.map((type) => ({ type })),
      });
      assert.equal(endpoint.status, 201, endpoint.text);
      const types = await ok(world.get('/api/v2/webhook/endpoint/event/', admin));
      for (const type of USER_TYPES) assert.ok(types.body.includes(type), type);

      const id = created(await world.post('/api/v2/sso/signup/', admin, { username: `hooked_${process.pid}` }));
      await ok(world.request('PATCH', `/api/v2/user/${id}/`, { token: admin, body: { bio: 'hooked' } }));
      // A connection event is not theirs.
      const other = await world.user();
      const friend = await world.user();
      await ok(world.act(other.token, friend.id, 'request'));
      await ok(world.request('DELETE', `/api/v2/user/${id}/`, { token: admin }), 204);

      const worker = new WebhookWorker(world.db, { config: TEST_WEBHOOKS, timeoutMs: 2000 });
      while ((await worker.runOnce()) > 0) {}
      // Up to four deliveries to one endpoint go out at once: the order is the events' (event_id).
      const received = [...receiver.received].sort((a, b) => a.json.event_id - b.json.event_id);
      assert.deepEqual(
        received.map((r) => [r.json.type, r.json.data.id]),
        [
          ['user.created', id],
          ['user.updated', id],
          ['user.deleted', id],
        ],
      );
      for (const r of receiver.received) {
        assert.deepEqual(Object.keys(r.json).sort(), ['created', 'data', 'event_id', 'type']);
        assert.match(String(r.headers['selfcommunity-signature']), /t=\d+,v1=/);
      }
      assert.equal(received[1]?.json.data.bio, 'hooked');
    } finally {
      await receiver.stop();
    }
  });

  test('every advertised user event type is produced (by the tests above)', async () => {
    const advertised = (await ok(world.get('/api/v2/webhook/endpoint/event/', admin))).body as string[];
    assert.deepEqual(advertised.filter((t) => t.startsWith('user.')).sort(), [...produced].sort());
  });
});
