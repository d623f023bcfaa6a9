import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { DEFAULT_WEBHOOKS, loadConfig } from '../../src/config.js';
import { pruneExpired } from '../../src/services/retention.js';
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

const RETENTION = loadConfig({}).retention;

/** One request from a new member to another: its event, the recipient's notification, a delivery per endpoint. */
async function requestEvent() {
  const a = await world.user();
  const b = await world.user();
  await world.act(a.token, b.id, 'request');
  const { rows } = await sql<{ id: number }>`SELECT id FROM events WHERE from_user_id = ${a.id}`.execute(world.db);
  assert.equal(rows.length, 1);
  return Number(rows[0]!.id);
}

/** Moves every row of an event (the event, its notifications, deliveries and attempts) `days` into the past. */
async function age(eventId: number, days: number) {
  const shift = sql`${`${days} days`}::interval`;
  await sql`UPDATE events SET created = created - ${shift} WHERE id = ${eventId}`.execute(world.db);
  await sql`UPDATE notifications SET created = created - ${shift} WHERE event_id = ${eventId}`.execute(world.db);
  await sql`UPDATE webhook_deliveries SET created_at = created_at - ${shift} WHERE event_id = ${eventId}`.execute(
    world.db,
  );
  await sql`UPDATE webhook_attempts SET created_at = created_at - ${shift}, sent_at = sent_at - ${shift}
            WHERE event_id = ${eventId}`.execute(world.db);
}

const markRead = (eventId: number) =>
  sql`UPDATE notifications SET read_at = now() WHERE event_id = ${eventId}`.execute(world.db);

async function rowsOf(eventId: number) {
  const count = async (table: string) => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${sql.ref(
      table === 'events' ? 'id' : 'event_id',
    )} = ${eventId}`.execute(world.db);
    return rows[0]!.n;
  };
  return {
    event: await count('events'),
    notifications: await count('notifications'),
    deliveries: await count('webhook_deliveries'),
    attempts: await count('webhook_attempts'),
  };
}

test('the defaults keep 30 days of everything, longer than the retry schedule and the switch-off period', () => {
  assert.deepEqual(RETENTION, { eventsDays: 30, deliveriesDays: 30, notificationsDays: 30 });
  const retrying = DEFAULT_WEBHOOKS.retrySchedule.reduce((a, b) => a + b, 0);
  assert.ok(retrying < 30 * 86_400 && DEFAULT_WEBHOOKS.disableAfter < 30 * 86_400);
});

test('rows past the window are pruned in batches; newer ones, unread notifications and retrying deliveries stay', async () => {
  const receiver = await Receiver.start();
  const res = await world.post('/api/v2/webhook/endpoint/', admin, {
    target: receiver.url,
    events: [{ type: 'connection_request.created' }],
  });
  assert.equal(res.status, 201, res.text);
  const worker = new WebhookWorker(world.db, { config: TEST_WEBHOOKS, timeoutMs: 2000 });

  // Delivered, notification read, 40 days old: everything goes (three of them, to cross batches of 2).
  const gone = [await requestEvent(), await requestEvent(), await requestEvent()];
  // Delivered, notification read, 20 days old: inside the window.
  const recent = await requestEvent();
  // Delivered, 40 days old, but the member has not read the notification: the event stays for it.
  const unread = await requestEvent();
  while ((await worker.runOnce()) > 0) {}
  // Failing and still retrying, 40 days old (a long retry schedule, or a paused endpoint).
  receiver.behaviour = 'error';
  const retrying = await requestEvent();
  assert.equal(await worker.runOnce(), 1);
  // Failed long ago, resent and delivered yesterday: its fresh attempt keeps the delivery.
  const resent = await requestEvent();
  assert.equal(await worker.runOnce(), 1);
  await sql`UPDATE webhook_deliveries SET status = 'failed' WHERE event_id = ${resent}`.execute(world.db);
  for (const id of [...gone, recent, retrying, resent]) await markRead(id);
  for (const id of [...gone, unread, retrying, resent]) await age(id, 40);
  await age(recent, 20);
  receiver.behaviour = 'ok';
  const resend = await world.post(`/api/v2/webhook/endpoint/${res.body.id}/event/resend/`, admin, { event: resent });
  assert.ok(resend.status < 300, resend.text);
  assert.equal(await worker.runOnce(), 1);

  const before = Object.fromEntries(
    await Promise.all([...gone, recent, unread, retrying, resent].map(async (id) => [id, await rowsOf(id)])),
  );
  for (const id of gone) assert.deepEqual(before[id], { event: 1, notifications: 1, deliveries: 1, attempts: 1 });

  const pruned = await pruneExpired(world.db, RETENTION, new Date(), { batch: 2, maxBatches: 100 });
  assert.deepEqual(pruned, { attempts: 5, deliveries: 4, notifications: 5, events: 3 });
  for (const id of gone) assert.deepEqual(await rowsOf(id), { event: 0, notifications: 0, deliveries: 0, attempts: 0 });
  assert.deepEqual(await rowsOf(recent), before[recent], 'inside the window');
  assert.deepEqual(await rowsOf(unread), { event: 1, notifications: 1, deliveries: 0, attempts: 0 }, 'unread');
  assert.deepEqual(await rowsOf(retrying), { event: 1, notifications: 0, deliveries: 1, attempts: 1 }, 'retrying');
  assert.deepEqual(await rowsOf(resent), { event: 1, notifications: 0, deliveries: 1, attempts: 1 }, 'resent');

  // A window of 0 keeps that kind of row forever; a second call finds nothing more.
  await age(recent, 20);
  const forever = { eventsDays: 0, deliveriesDays: 0, notificationsDays: 0 };
  assert.deepEqual(await pruneExpired(world.db, forever, new Date()), {
    attempts: 0,
    deliveries: 0,
    notifications: 0,
    events: 0,
  });
  assert.deepEqual(await rowsOf(recent), before[recent]);
  const removed = await world.request('DELETE', `/api/v2/webhook/endpoint/${res.body.id}/`, { token: admin });
  assert.equal(removed.status, 204);
  await receiver.stop();
});

test('one call deletes at most maxBatches × batch rows of a kind; the next call goes on', async () => {
  const ids = [await requestEvent(), await requestEvent(), await requestEvent()];
  for (const id of ids) {
    await markRead(id);
    await age(id, 100);
  }
  const options = { batch: 1, maxBatches: 2 };
  const first = await pruneExpired(world.db, RETENTION, new Date(), options);
  assert.equal(first.notifications, 2, 'three are due; one call takes two');
  let calls = 1;
  while ((await pruneExpired(world.db, RETENTION, new Date(), options)).events > 0) calls++;
  assert.ok(calls >= 2, 'it took more than one call');
  for (const id of ids) assert.equal((await rowsOf(id)).event, 0);
});

test('a running worker prunes on its period', async () => {
  const id = await requestEvent();
  await markRead(id);
  await age(id, 31);
  const worker = new WebhookWorker(world.db, { config: TEST_WEBHOOKS, retention: RETENTION, pruneEveryMs: 60_000 });
  await worker.start(world.handle, (world.handle as { databaseUrl?: string }).databaseUrl);
  const deadline = Date.now() + 20_000;
  while ((await rowsOf(id)).event > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await worker.stop();
  assert.deepEqual(await rowsOf(id), { event: 0, notifications: 0, deliveries: 0, attempts: 0 });
});

test('a resend racing the pruning of its event is a 404 naming it, never a 500', {
  skip: process.env.DATABASE_URL ? false : 'two transactions at once need PostgreSQL',
}, async () => {
  const receiver = await Receiver.start();
  const res = await world.post('/api/v2/webhook/endpoint/', admin, {
    target: receiver.url,
    events: [{ type: 'connection_request.created' }],
  });
  assert.equal(res.status, 201, res.text);
  const eventId = await requestEvent();
  await sql`DELETE FROM notifications WHERE event_id = ${eventId}`.execute(world.db);
  await sql`DELETE FROM webhook_deliveries WHERE event_id = ${eventId}`.execute(world.db);

  // The pruning's transaction: the event locked and deleted, not yet committed.
  let deleted!: () => void;
  let commit!: () => void;
  const isDeleted = new Promise<void>((resolve) => (deleted = resolve));
  const committing = new Promise<void>((resolve) => (commit = resolve));
  const pruning = world.db.transaction().execute(async (tx) => {
    await sql`SELECT id FROM events WHERE id = ${eventId} FOR UPDATE`.execute(tx);
    await sql`DELETE FROM events WHERE id = ${eventId}`.execute(tx);
    deleted();
    await committing;
  });
  await isDeleted;
  const resend = world.post(`/api/v2/webhook/endpoint/${res.body.id}/event/resend/`, admin, { event: eventId });
  await new Promise((resolve) => setTimeout(resolve, 300));
  commit();
  await pruning;
  const answer = await resend;
  await receiver.stop();
  assert.equal(answer.status, 404, answer.text);
  assert.match(answer.body.detail, new RegExp(`${eventId}`));
});
