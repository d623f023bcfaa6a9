import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CONNECTION_ACTIONS, PAIR_STATES, plan } from '../../src/domain/connection-state.js';
import { FOLLOW_ACTIONS, FOLLOW_STATES, planFollow } from '../../src/domain/follow-state.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { Receiver } from '../helpers/receiver.js';
import { TEST_WEBHOOKS, World } from '../helpers/world.js';

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const ALL = [
  'connection_request.created',
  'connection_request.rejected',
  'connection_request.restored',
  'connection_request.cancelled',
  'connection.created',
  'connection.deleted',
];

async function createEndpoint(target: string, types = ALL, extra: Record<string, unknown> = {}) {
  const res = await world.post('/api/v2/webhook/endpoint/', admin, {
    target,
    events: types.map((type) => ({ type })),
    ...extra,
  });
  assert.equal(res.status, 201, res.text);
  const secret = await world.post(`/api/v2/webhook/endpoint/${res.body.id}/secret/reveal/`, admin);
  assert.equal(secret.status, 201);
  return { id: res.body.id as number, secret: secret.body.signing_secret as string, body: res.body };
}

/** The receiver's side of the signature scheme, written from the reference page, not from kith's code. */
function signatureValid(header: string | string[] | undefined, secret: string, body: string) {
  assert.equal(typeof header, 'string');
  const elements = (header as string).split(',').map((e) => e.split('=') as [string, string]);
  const t = elements.find(([k]) => k === 't')?.[1];
  assert.ok(t && /^\d+$/.test(t), 'the header carries a timestamp');
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return elements
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v.length === 64 && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

/** A clock the test moves by hand. */
function clock(start = Date.now()) {
  let now = start;
  return { now: () => new Date(now), advance: (seconds: number) => (now += seconds * 1000) };
}

function worker(time = clock(), overrides: Partial<typeof TEST_WEBHOOKS> = {}, options: Record<string, unknown> = {}) {
  return new WebhookWorker(world.db, {
    config: { ...TEST_WEBHOOKS, ...overrides },
    now: time.now,
    timeoutMs: 2000,
    ...options,
  });
}

async function drain(w: WebhookWorker) {
  while ((await w.runOnce()) > 0) {}
}

async function pause(endpointId: number) {
  const res = await world.request('PATCH', `/api/v2/webhook/endpoint/${endpointId}/`, {
    token: admin,
    body: { is_active: false },
  });
  assert.equal(res.status, 200);
}

describe('endpoint management', () => {
  test('read-only fields sent in a PUT or PATCH are never stored', async () => {
    const endpoint = await createEndpoint('http://127.0.0.1:9/ro');
    const before = await world.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', endpoint.id)
      .executeTakeFirstOrThrow();
    const forged = {
      id: 999_999,
      signing_secret: 'whsec_forged',
      previous_secret: 'whsec_forged_too',
      failing_since: '2020-01-01T00:00:00Z',
      disabled_reason: 'forged',
      created_at: '2020-01-01T00:00:00Z',
    };
    for (const [method, body] of [
      ['PATCH', { description: 'changed', ...forged }],
      ['PUT', { target: 'http://127.0.0.1:9/ro2', events: [{ type: 'connection.created' }], ...forged }],
    ] as const) {
      const response = await world.request(method, `/api/v2/webhook/endpoint/${endpoint.id}/`, { token: admin, body });
      assert.equal(response.status, 200, response.text);
    }
    const after = await world.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', endpoint.id)
      .executeTakeFirstOrThrow();
    assert.equal(after.description, 'changed');
    assert.equal(after.target, 'http://127.0.0.1:9/ro2');
    assert.equal(after.signing_secret, before.signing_secret);
    assert.equal(after.previous_secret, before.previous_secret);
    assert.equal(after.failing_since, before.failing_since);
    assert.equal(after.disabled_reason, before.disabled_reason);
    assert.deepEqual(after.created_at, before.created_at);
    // Later tests count deliveries: this endpoint takes none.
    await world.request('DELETE', `/api/v2/webhook/endpoint/${endpoint.id}/`, { token: admin });
  });

  test('create, read, list, update, replace, delete; admin only', async () => {
    const created = await createEndpoint('http://127.0.0.1:9/a', ['connection.created'], { description: 'crm' });
    assert.deepEqual(Object.keys(created.body).sort(), [
      'created_at',
      'description',
      'disabled_reason',
      'events',
      'id',
      'is_active',
      'ssl_cert_verification',
      'target',
      'updated_at',
    ]);
    assert.equal(created.body.is_active, true);
    assert.equal(created.body.ssl_cert_verification, true);
    assert.deepEqual(
      created.body.events.map((e: any) => e.type),
      ['connection.created'],
    );
    assert.match(created.secret, /^whsec_/);

    const member = await world.user();
    assert.equal((await world.get('/api/v2/webhook/endpoint/', member.token)).status, 403);
    assert.equal((await world.get('/api/v2/webhook/endpoint/')).status, 401);

    const got = await world.get(`/api/v2/webhook/endpoint/${created.id}/`, admin);
    assert.deepEqual(got.body, created.body);
    const list = await world.get('/api/v2/webhook/endpoint/?limit=100', admin);
    assert.ok(list.body.results.some((e: any) => e.id === created.id));
    const search = await world.get('/api/v2/webhook/endpoint/search/?target=127.0.0.1:9/a', admin);
    assert.deepEqual(
      search.body.results.map((e: any) => e.id),
      [created.id],
    );

    const patched = await world.request('PATCH', `/api/v2/webhook/endpoint/${created.id}/`, {
      token: admin,
      body: { description: 'mailer', events: [{ type: 'connection.created' }, { type: 'connection.deleted' }] },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.description, 'mailer');
    assert.deepEqual(patched.body.events.map((e: any) => e.type).sort(), ['connection.created', 'connection.deleted']);
    const kept = patched.body.events.find((e: any) => e.type === 'connection.created');
    assert.equal(kept.added_at, created.body.events[0].added_at, 'a type that stays keeps its added_at');

    const put = await world.request('PUT', `/api/v2/webhook/endpoint/${created.id}/`, {
      token: admin,
      body: { target: 'http://127.0.0.1:9/b', events: [{ type: 'connection_request.created' }] },
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.target, 'http://127.0.0.1:9/b');
    const incomplete = await world.request('PUT', `/api/v2/webhook/endpoint/${created.id}/`, {
      token: admin,
      body: { target: 'http://127.0.0.1:9/b' },
    });
    assert.equal(incomplete.status, 400);

    // Advertised are exactly the types some move of a state machine produces (friendship and follow),
    // and the user events (user-events.test.ts checks that each of those is produced).
    const produced = new Set(
      [
        ...PAIR_STATES.flatMap((state) =>
          CONNECTION_ACTIONS.flatMap((action) =>
            [false, true].flatMap((byMe) =>
              [false, true].map((byThem) => plan(state, action, { me: 1, them: 2 }, { byMe, byThem })),
            ),
          ),
        ),
        ...FOLLOW_STATES.flatMap((state) =>
          FOLLOW_ACTIONS.map((action) => planFollow(state, action, { me: 1, them: 2 })),
        ),
      ].flatMap((planned) =>
        planned.ok ? planned.effects.flatMap((e) => (e.kind === 'event' ? [e.event.type] : [])) : [],
      ),
    );
    const types = await world.get('/api/v2/webhook/endpoint/event/', admin);
    const userEvents = ['user.created', 'user.updated', 'user.deleted'];
    assert.deepEqual([...types.body].sort(), [...produced, ...userEvents].sort());
    assert.deepEqual(
      [...types.body].sort(),
      [...ALL, 'connection.follow', 'connection.unfollow', ...userEvents].sort(),
    );

    assert.equal(
      (await world.request('DELETE', `/api/v2/webhook/endpoint/${created.id}/`, { token: admin })).status,
      204,
    );
    assert.equal((await world.get(`/api/v2/webhook/endpoint/${created.id}/`, admin)).status, 404);
  });

  test('bad targets and unknown event types are refused with a 400', async () => {
    for (const target of [
      'ftp://127.0.0.1/x',
      'file:///etc/passwd',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]/x',
      'http://0.0.0.0/x',
      'not a url',
      'http://user:pw@127.0.0.1/x',
    ]) {
      const res = await world.post('/api/v2/webhook/endpoint/', admin, {
        target,
        events: [{ type: 'connection.created' }],
      });
      assert.equal(res.status, 400, target);
      assert.equal(res.body.code, 'invalid');
    }
    const res = await world.post('/api/v2/webhook/endpoint/', admin, {
      target: 'http://127.0.0.1:9/x',
      events: [{ type: 'post.created' }],
    });
    assert.equal(res.status, 400);
    assert.match(res.body.detail, /post\.created/);
  });

  test('reveal checks the password when one is given', async () => {
    const { id } = await createEndpoint('http://127.0.0.1:9/p');
    const wrong = await world.post(`/api/v2/webhook/endpoint/${id}/secret/reveal/`, admin, { password: 'nope' });
    assert.equal(wrong.status, 400);
    const right = await world.post(`/api/v2/webhook/endpoint/${id}/secret/reveal/`, admin, {
      password: 'Admin-pass-1',
    });
    assert.equal(right.status, 201);
    assert.equal((await world.request('DELETE', `/api/v2/webhook/endpoint/${id}/`, { token: admin })).status, 204);
  });
});

describe('delivery', () => {
  test('a target refused at delivery time is recorded as a failed attempt and retried', async () => {
    // Registered while private targets were allowed; delivered by a worker that refuses them:
    // a literal address (refused before connecting) and a name that resolves to one (at lookup).
    for (const target of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook']) {
      const endpoint = await createEndpoint(target, ['connection_request.created']);
      const alice = await world.user();
      const bob = await world.user();
      await world.act(alice.token, bob.id, 'request');
      const time = clock();
      const strict = worker(time, { allowPrivate: false });
      await drain(strict);
      const attempts = await world.get(`/api/v2/webhook/endpoint/${endpoint.id}/attempt/`, admin);
      assert.equal(attempts.status, 200, attempts.text);
      assert.equal(attempts.body.count, 1, target);
      assert.match(JSON.stringify(attempts.body.results[0]), /target not allowed/, target);
      // Retried on the schedule: due again after the first wait.
      time.advance(6);
      assert.equal(await strict.runOnce(), 1, target);
      await pause(endpoint.id);
    }
  });

  test('every graph event arrives once, signed, with the payload of the reference page', async () => {
    const receiver = await Receiver.start();
    const endpoint = await createEndpoint(receiver.url);
    const alice = await world.user();
    const bob = await world.user();
    await world.act(alice.token, bob.id, 'request');
    await world.act(bob.token, alice.id, 'reject');
    await world.act(bob.token, alice.id, 'cancel_reject');
    await world.act(bob.token, alice.id, 'accept');
    await world.act(alice.token, bob.id, 'remove');
    await world.act(alice.token, bob.id, 'request');
    await world.act(alice.token, bob.id, 'cancel_request');
    const w = worker();
    await drain(w);
    await pause(endpoint.id);
    await receiver.stop();

    // Up to four go out to one endpoint at once, so they may arrive in any order: event_id orders them.
    const inOrder = [...receiver.received].sort((x, y) => x.json.event_id - y.json.event_id);
    assert.deepEqual(
      inOrder.map((r) => [r.json.type, r.json.data.from_user.id, r.json.data.to_user.id]),
      [
        ['connection_request.created', alice.id, bob.id],
        ['connection_request.rejected', alice.id, bob.id],
        ['connection_request.restored', alice.id, bob.id],
        ['connection.created', alice.id, bob.id],
        ['connection.deleted', alice.id, bob.id],
        ['connection_request.created', alice.id, bob.id],
        ['connection_request.cancelled', alice.id, bob.id],
      ],
    );
    for (const r of receiver.received) {
      assert.ok(signatureValid(r.headers['selfcommunity-signature'], endpoint.secret, r.body));
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(r.json), ['event_id', 'type', 'created', 'data']);
      assert.equal(typeof r.json.event_id, 'number');
      assert.equal(typeof r.json.created, 'number');
      assert.ok(Math.abs(r.json.created - Date.now() / 1000) < 60);
    }
    const ids = receiver.received.map((r) => r.json.event_id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(
      signatureValid(
        receiver.received[0]?.headers['selfcommunity-signature'],
        'whsec_wrong',
        receiver.received[0]!.body,
      ),
      false,
    );
  });

  test('a failing receiver is retried 5, 25, 125, 625 and 3125 s later, then the event is failed', async () => {
    const receiver = await Receiver.start();
    receiver.behaviour = 'error';
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const a = await world.user();
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    const time = clock();
    const w = worker(time);
    assert.equal(await w.runOnce(), 1);
    for (const wait of [5, 25, 125, 625, 3125]) {
      time.advance(wait - 1);
      assert.equal(await w.runOnce(), 0, `nothing is due ${wait - 1} s after a failure`);
      time.advance(1);
      assert.equal(await w.runOnce(), 1, `the retry comes ${wait} s after the failure`);
    }
    time.advance(100_000);
    assert.equal(await w.runOnce(), 0, 'after the last retry the event is failed');
    assert.equal(receiver.received.length, 6);
    assert.equal(new Set(receiver.received.map((r) => r.body)).size, 1, 'every try sends the same payload');

    const attempts = await world.get(`/api/v2/webhook/endpoint/${endpoint.id}/attempt/`, admin);
    assert.equal(attempts.body.count, 6);
    assert.deepEqual(
      attempts.body.results.map((x: any) => x.http_response_code),
      [500, 500, 500, 500, 500, 500],
    );
    assert.equal(attempts.body.results[0].next_retry, null, 'the last attempt schedules nothing');
    const [, second] = attempts.body.results;
    assert.equal(Date.parse(second.next_retry) - Date.parse(second.sent_at), 3125 * 1000);
    const delivery = await world.db
      .selectFrom('webhook_deliveries')
      .select(['status', 'attempts'])
      .where('endpoint_id', '=', endpoint.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(delivery, { status: 'failed', attempts: 6 });

    // an admin can send it again
    receiver.behaviour = 'ok';
    const eventId = receiver.received[0]!.json.event_id;
    assert.equal(
      (await world.post(`/api/v2/webhook/endpoint/${endpoint.id}/event/resend/`, admin, { event: eventId })).status,
      204,
    );
    assert.equal(await w.runOnce(), 1);
    assert.equal(receiver.received.length, 7);
    assert.equal(receiver.received[6]!.json.event_id, eventId);
    const missing = await world.post(`/api/v2/webhook/endpoint/${endpoint.id}/event/resend/bulk/`, admin, {
      event: [eventId, 999_999],
    });
    assert.equal(missing.status, 404);
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('a redirect and a timeout are failures; redirects are not followed', async () => {
    const receiver = await Receiver.start();
    receiver.behaviour = 'redirect';
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const a = await world.user();
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    const time = clock();
    const w = worker(time, {}, { timeoutMs: 300 });
    await w.runOnce();
    receiver.behaviour = 'hang';
    time.advance(5);
    await w.runOnce();
    const attempts = await world.get(`/api/v2/webhook/endpoint/${endpoint.id}/attempt/`, admin);
    assert.deepEqual(
      attempts.body.results.map((x: any) => [x.http_response_code, x.error]),
      [
        [null, 'timed out after 300 ms'],
        [302, 'answered 302'],
      ],
    );
    assert.equal(receiver.received.length, 2);
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('a receiver that is down, then back, gets every event exactly once', async () => {
    const receiver = await Receiver.start();
    const port = receiver.port;
    const endpoint = await createEndpoint(receiver.url);
    await receiver.stop(); // down: connections are refused
    const users = [await world.user(), await world.user(), await world.user(), await world.user()];
    for (const u of users.slice(1)) await world.act(users[0]!.token, u.id, 'request');
    await world.act(users[1]!.token, users[0]!.id, 'accept');
    const time = clock();
    const w = worker(time);
    assert.equal(await w.runOnce(), 4);
    time.advance(5);
    assert.equal(await w.runOnce(), 4);
    const back = await Receiver.start(port);
    time.advance(25);
    await drain(w);
    time.advance(10_000);
    await drain(w);
    assert.equal(back.received.length, 4);
    assert.equal(new Set(back.received.map((r) => r.json.event_id)).size, 4);
    await pause(endpoint.id);
    await back.stop();
  });

  test('a worker that dies mid-delivery loses nothing: the lease lapses and another worker delivers', async () => {
    const receiver = await Receiver.start();
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const a = await world.user();
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    const time = clock();
    // The first worker claims the row, then never gets to record anything: as after a kill -9.
    const doomed = worker(time, {}, { send: () => new Promise(() => undefined), leaseMs: 60_000 });
    void doomed.runOnce();
    await new Promise((r) => setTimeout(r, 200));
    const rescuer = worker(time);
    assert.equal(await rescuer.runOnce(), 0, 'the claimed row is not taken while its lease runs');
    time.advance(61);
    assert.equal(await rescuer.runOnce(), 1);
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]!.json.data.from_user.id, a.id);
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('two workers share the queue without delivering anything twice', async () => {
    const receiver = await Receiver.start();
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const hub = await world.user();
    for (let i = 0; i < 12; i++) {
      const u = await world.user();
      await world.act(u.token, hub.id, 'request');
    }
    const w1 = worker(clock(), {}, { concurrency: 3 });
    const w2 = worker(clock(), {}, { concurrency: 3 });
    await Promise.all([drain(w1), drain(w2)]);
    assert.equal(receiver.received.length, 12);
    assert.equal(new Set(receiver.received.map((r) => r.json.event_id)).size, 12);
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('a running worker wakes on NOTIFY: a new event goes out without waiting for the next poll', async () => {
    const receiver = await Receiver.start();
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const running = worker(clock(), {}, { pollMs: 120_000, now: () => new Date() });
    await drain(running); // nothing due yet, so the loop below will sleep on the long poll
    await running.start(world.handle, (world.handle as { databaseUrl?: string }).databaseUrl);
    await new Promise((r) => setTimeout(r, 300));
    const a = await world.user();
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    await receiver.waitFor(1, 10_000);
    assert.equal(receiver.received[0]!.json.type, 'connection_request.created');
    await running.stop();
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('an expired secret keeps signing beside the new one', async () => {
    const receiver = await Receiver.start();
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const expired = await world.post(`/api/v2/webhook/endpoint/${endpoint.id}/secret/expire/`, admin);
    assert.equal(expired.status, 200);
    const fresh = (await world.post(`/api/v2/webhook/endpoint/${endpoint.id}/secret/reveal/`, admin)).body
      .signing_secret;
    assert.notEqual(fresh, endpoint.secret);
    const a = await world.user();
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    await worker().runOnce();
    const [r] = receiver.received;
    assert.ok(r);
    assert.equal(String(r.headers['selfcommunity-signature']).match(/v1=/g)?.length, 2);
    assert.ok(signatureValid(r.headers['selfcommunity-signature'], fresh, r.body));
    assert.ok(signatureValid(r.headers['selfcommunity-signature'], endpoint.secret, r.body));
    // 24 h later only the new secret signs
    await world.act(b.token, a.id, 'reject');
    await world.request('PATCH', `/api/v2/webhook/endpoint/${endpoint.id}/`, {
      token: admin,
      body: { events: [{ type: 'connection_request.rejected' }] },
    });
    await world.act(b.token, a.id, 'cancel_reject');
    await world.act(b.token, a.id, 'reject');
    await worker(clock(Date.now() + 24 * 3600 * 1000 + 1000)).runOnce();
    const last = receiver.received.at(-1)!;
    assert.equal(last.json.type, 'connection_request.rejected');
    assert.equal(String(last.headers['selfcommunity-signature']).match(/v1=/g)?.length, 1);
    assert.ok(signatureValid(last.headers['selfcommunity-signature'], fresh, last.body));
    await pause(endpoint.id);
    await receiver.stop();
  });

  test('an endpoint failing for the whole period is switched off, says why, and gets nothing new', async () => {
    const receiver = await Receiver.start();
    receiver.behaviour = 'error';
    const endpoint = await createEndpoint(receiver.url, ['connection_request.created']);
    const a = await world.user();
    const users = [await world.user(), await world.user()];
    await world.act(a.token, users[0]!.id, 'request');
    const time = clock();
    const w = worker(time, { disableAfter: 60 });
    await w.runOnce();
    time.advance(5);
    await w.runOnce();
    time.advance(25);
    await w.runOnce();
    assert.equal((await world.get(`/api/v2/webhook/endpoint/${endpoint.id}/`, admin)).body.is_active, true);
    time.advance(125);
    await w.runOnce();
    const off = await world.get(`/api/v2/webhook/endpoint/${endpoint.id}/`, admin);
    assert.equal(off.body.is_active, false);
    assert.match(off.body.disabled_reason, /every delivery failed since/);
    await world.act(a.token, users[1]!.id, 'request');
    time.advance(100_000);
    assert.equal(await w.runOnce(), 0, 'events while inactive are not delivered');
    const back = await world.request('PATCH', `/api/v2/webhook/endpoint/${endpoint.id}/`, {
      token: admin,
      body: { is_active: true },
    });
    assert.equal(back.body.disabled_reason, null);
    await pause(endpoint.id);
    await receiver.stop();
  });
});
