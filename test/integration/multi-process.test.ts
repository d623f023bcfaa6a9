import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { deliver } from '../../src/webhooks/deliver.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { Receiver } from '../helpers/receiver.js';
import { ServerProcess, startCli } from '../helpers/server-process.js';
import { SocketClient } from '../helpers/socket.js';
import { tempDir } from '../helpers/temp.js';
import { JWT_SECRET, TEST_WEBHOOKS, World } from '../helpers/world.js';

let world: World;
let child: ServerProcess | undefined;
let second: FastifyInstance | undefined;
let secondUrl: string;

before(async () => {
  world = await World.start();
  const databaseUrl = (world.handle as { databaseUrl?: string }).databaseUrl;
  if (databaseUrl) {
    // PostgreSQL: a second, real server process on the same database.
    child = await ServerProcess.start(
      databaseUrl,
      { LOG_LEVEL: 'warn', KITH_WEBHOOK_WORKER: 'false' },
      { stderr: 'inherit' },
    );
    secondUrl = child.url;
  } else {
    // The embedded database allows one process: a second server instance in this process, on the
    // same database, with its own LISTEN subscription, shows the same fan-out.
    second = await buildApp({
      config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false },
      db: world.db,
      realtime: { handle: world.handle, databaseUrl: undefined },
      webhooks: TEST_WEBHOOKS,
    });
    await second.listen({ port: 0, host: '127.0.0.1' });
    secondUrl = `http://127.0.0.1:${(second.server.address() as { port: number }).port}`;
  }
});

after(async () => {
  await child?.stop();
  await second?.close();
  await world.close();
});

test('a request made through one server reaches a socket held by another', async () => {
  const alice = await world.user();
  const bob = await world.user();
  const socket = await SocketClient.open(secondUrl, bob.token);
  const sent = await world.act(alice.token, bob.id, 'request');
  assert.equal(sent.status, 200);
  const [message] = await socket.waitFor(1, 10_000);
  assert.equal(message.type, 'interaction');
  assert.equal(message.data.activity_type, 'connection_request');
  assert.equal(message.data.request_user.id, alice.id);
  socket.close();
});

test('a worker process killed mid-delivery loses nothing', async () => {
  const databaseUrl = (world.handle as { databaseUrl?: string }).databaseUrl;
  const receiver = await Receiver.start();
  receiver.behaviour = 'hang';
  const admin = await world.adminToken();
  const created = await world.post('/api/v2/webhook/endpoint/', admin, {
    target: receiver.url,
    events: [{ type: 'connection_request.created' }],
  });
  assert.equal(created.status, 201);
  const a = await world.user();
  const b = await world.user();
  let killed: Promise<unknown>;
  if (databaseUrl) {
    // A real `kith worker` process takes the delivery, and is killed (SIGKILL) while it waits for the answer.
    const workerProcess = await startCli(
      ['worker'],
      {
        ...process.env,
        DATABASE_URL: databaseUrl,
        JWT_SECRET,
        KITH_WEBHOOK_ALLOW_PRIVATE: 'true',
        KITH_DATA_DIR: tempDir('kith-w-'),
      },
      'delivering webhooks',
    );
    await world.act(a.token, b.id, 'request');
    await receiver.waitFor(1, 60_000);
    killed = new Promise((resolve) => workerProcess.once('exit', resolve));
    workerProcess.kill('SIGKILL');
  } else {
    // The embedded database allows one process: a worker that really sends the delivery but never
    // gets to record its try stands for the killed one.
    await world.act(a.token, b.id, 'request');
    const doomed = new WebhookWorker(world.db, {
      config: TEST_WEBHOOKS,
      send: (request) => {
        void deliver(request);
        return new Promise(() => undefined);
      },
    });
    void doomed.runOnce();
    await receiver.waitFor(1, 60_000);
    killed = Promise.resolve();
  }
  await killed;
  receiver.behaviour = 'ok';
  const later = new WebhookWorker(world.db, { config: TEST_WEBHOOKS, now: () => new Date(Date.now() + 61_000) });
  assert.equal(await later.runOnce(), 1, "the row comes back when the dead worker's lease lapses");
  assert.equal(receiver.received.length, 2);
  assert.equal(receiver.received[1]!.json.type, 'connection_request.created');
  assert.equal(receiver.received[1]!.json.data.from_user.id, a.id);
  const delivery = await world.db
    .selectFrom('webhook_deliveries')
    .select(['status', 'attempts'])
    .where('endpoint_id', '=', created.body.id)
    .executeTakeFirstOrThrow();
  assert.deepEqual(delivery, { status: 'succeeded', attempts: 1 });
  await receiver.stop();
});

test('a follow made through one server reaches the followed member on another', async () => {
  const fan = await world.user();
  const star = await world.user();
  await world.setPreferences({ follow_enabled: true });
  try {
    const socket = await SocketClient.open(secondUrl, star.token);
    const followed = await world.request('POST', `/api/v2/user/${star.id}/follow/`, { token: fan.token });
    assert.equal(followed.status, 204, followed.text);
    const [message] = await socket.waitFor(1, 10_000);
    assert.equal(message.data.activity_type, 'user_follow');
    assert.equal(message.data.follower.id, fan.id);
    socket.close();
  } finally {
    await world.setPreferences({ follow_enabled: false });
  }
});
