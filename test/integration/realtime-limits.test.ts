import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { HEARTBEAT } from '../../src/realtime/hub.js';
import { setActive } from '../../src/services/member-admin.js';
import { SocketClient } from '../helpers/socket.js';
import { World } from '../helpers/world.js';

/**
 * The realtime socket's limits: a frame larger than 4 KiB (kith's clients send only the heartbeat)
 * closes the socket with 1009 (message too big); a client that never reads its socket, and so
 * never answers a ping, is dropped (the test world pings every second).
 */

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const closeCode = (client: SocketClient) =>
  new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));

/** The open sockets the server counts, as /metrics reports them. */
async function openSockets(): Promise<number> {
  const metrics = await world.get('/metrics');
  const line = /^kith_realtime_open_sockets (\d+)$/m.exec(metrics.text);
  assert.ok(line, 'the gauge is in /metrics');
  return Number(line[1]);
}

/** Polls `read` until it gives `want` (or fails after `ms`). */
async function until(read: () => Promise<number>, want: number, ms: number) {
  const deadline = Date.now() + ms;
  let got = await read();
  while (got !== want && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    got = await read();
  }
  assert.equal(got, want);
}

test('a frame of 4 KiB is read; one byte more closes the socket with 1009', async () => {
  const member = await world.user();
  const client = await SocketClient.open(world.baseUrl, member.token);
  client.socket.send('x'.repeat(4096));
  client.socket.send(HEARTBEAT);
  await client.waitFor(1);
  assert.deepEqual(client.messages, [HEARTBEAT]);

  const closed = closeCode(client);
  client.socket.send('x'.repeat(4097));
  assert.equal(await closed, 1009);
});

test('a binary frame over the limit is refused the same way', async () => {
  const member = await world.user();
  const client = await SocketClient.open(world.baseUrl, member.token);
  const closed = closeCode(client);
  client.socket.send(Buffer.alloc(64 * 1024));
  assert.equal(await closed, 1009);
});

test('a client that never reads its socket is dropped', async () => {
  await until(openSockets, 0, 10_000);
  const member = await world.user();
  const { port } = new URL(world.baseUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  try {
    const head = await new Promise<string>((resolve) => {
      socket.once('data', (chunk) => resolve(chunk.toString('latin1')));
      socket.write(
        [
          'GET /ws/notify?subscribe-user HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          `Sec-WebSocket-Key: ${Buffer.from(randomUUID().slice(0, 16)).toString('base64')}`,
          `Sec-WebSocket-Protocol: __${member.token}`,
          '\r\n',
        ].join('\r\n'),
      );
    });
    assert.match(head, /^HTTP\/1\.1 101 /);
    // From here on nothing is read: the pings pile up unanswered.
    socket.pause();
    assert.equal(await openSockets(), 1);
    await until(openSockets, 0, 15_000);
  } finally {
    socket.destroy();
  }
});

test("a blocked, deactivated or deleted member's open sockets are closed at once (1008), others' stay open", async () => {
  const admin = await world.adminToken();
  const bystander = await world.user();
  const watching = await SocketClient.open(world.baseUrl, bystander.token);
  const withdrawals: Array<[string, (id: number) => Promise<unknown>]> = [
    [
      'block',
      (id) => world.request('PATCH', `/api/v2/moderation/user/${id}/`, { token: admin, body: { status: 'b' } }),
    ],
    ['delete', (id) => world.request('DELETE', `/api/v2/user/${id}/`, { token: admin })],
    ['deactivate', (id) => setActive(world.db, { id }, false)],
  ];
  for (const [name, withdraw] of withdrawals) {
    const member = await world.user();
    const sockets = [
      await SocketClient.open(world.baseUrl, member.token),
      await SocketClient.open(world.baseUrl, member.token),
    ];
    const closed = sockets.map(closeCode);
    const answer = (await withdraw(member.id)) as { status?: number } | undefined;
    if (answer?.status !== undefined) assert.ok(answer.status < 300, `${name}: ${answer.status}`);
    assert.deepEqual(await Promise.all(closed), [1008, 1008], name);
  }
  // The bystander's socket was left alone: it still answers the heartbeat.
  watching.socket.send(HEARTBEAT);
  await watching.waitFor(1);
  assert.deepEqual(watching.messages, [HEARTBEAT]);
  watching.socket.close();
});
