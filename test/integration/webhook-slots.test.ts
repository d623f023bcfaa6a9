import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { Receiver } from '../helpers/receiver.js';
import { TEST_WEBHOOKS, World } from '../helpers/world.js';

// How the worker shares its slots between endpoints, and why a slow receiver never makes a living
// worker's rows lapse to another worker.

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const databaseUrl = () => (world.handle as { databaseUrl?: string }).databaseUrl;

async function createEndpoint(target: string) {
  const res = await world.post('/api/v2/webhook/endpoint/', admin, {
    target,
    events: [{ type: 'connection_request.created' }],
  });
  assert.equal(res.status, 201, res.text);
  return res.body.id as number;
}

async function requests(count: number) {
  const hub = await world.user();
  for (let i = 0; i < count; i++) {
    const u = await world.user();
    await world.act(u.token, hub.id, 'request');
  }
}

async function attempts(endpointId: number) {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM webhook_attempts WHERE endpoint_id = ${endpointId}`.execute(world.db);
  return rows[0]!.n;
}

const remove = async (id: number) =>
  assert.equal((await world.request('DELETE', `/api/v2/webhook/endpoint/${id}/`, { token: admin })).status, 204);

test('a stalled endpoint holds only its own slots: a later endpoint is served while it hangs', async (t) => {
  const stalled = await Receiver.start();
  stalled.behaviour = 'hang';
  const fast = await Receiver.start();
  const stalledId = await createEndpoint(stalled.url);
  await requests(10); // queued for the stalled endpoint only, and older than anything the fast one gets
  const fastId = await createEndpoint(fast.url);
  await requests(3); // for both

  const worker = new WebhookWorker(world.db, {
    config: TEST_WEBHOOKS,
    concurrency: 4,
    perEndpoint: 2,
    // The stalled exchanges outlast this test: none of them ends before the fast endpoint is served.
    timeoutMs: 120_000,
    pollMs: 200,
  });
  await worker.start(world.handle, databaseUrl());
  t.after(async () => {
    await remove(stalledId);
    await stalled.stop(); // the hanging exchanges end now
    await worker.stop();
    await remove(fastId);
    await fast.stop();
  });
  await fast.waitFor(3, 30_000);
  assert.equal(new Set(fast.received.map((r) => r.json.event_id)).size, 3);
  assert.equal(stalled.received.length, 2, 'the stalled endpoint got exactly its two slots');
  assert.equal(await attempts(stalledId), 0, 'served while every try of the older, stalled deliveries still hangs');
  assert.equal(stalled.answered, 0);
});

test('a receiver slower than lease ÷ batch: no row lapses to the other worker while its worker lives', async (t) => {
  const slow = await Receiver.start();
  slow.behaviour = 'slow';
  slow.delayMs = 400;
  const id = await createEndpoint(slow.url);
  await requests(12);
  // Before, a worker claimed 10 rows at once and sent them one after another: 10 × 400 ms outlasted the
  // 3 s lease, so the other worker took (and delivered again) rows the first was still working through.
  const options = { config: TEST_WEBHOOKS, timeoutMs: 1000, leaseMs: 3000, perEndpoint: 1, pollMs: 100 };
  const workers = [new WebhookWorker(world.db, options), new WebhookWorker(world.db, options)];
  for (const w of workers) await w.start(world.handle, databaseUrl());
  t.after(async () => {
    for (const w of workers) await w.stop();
    await remove(id);
    await slow.stop();
  });
  await slow.waitFor(12, 60_000);
  // Time for a lapsed row to go out twice, if one did.
  await new Promise((r) => setTimeout(r, 3500));
  const ids = slow.received.map((r) => r.json.event_id);
  assert.equal(ids.length, 12, 'each event went out once');
  assert.equal(new Set(ids).size, 12);
  assert.equal(await attempts(id), 12);
});

test('a lease no longer than the delivery timeout is refused', () => {
  assert.throws(
    () => new WebhookWorker(world.db, { config: TEST_WEBHOOKS, timeoutMs: 10_000, leaseMs: 10_000 }),
    /lease must be longer/,
  );
});
