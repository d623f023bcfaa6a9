import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { SocketClient } from '../helpers/socket.js';
import { JWT_SECRET, TEST_WEBHOOKS, World } from '../helpers/world.js';

let world: World;
let child: ChildProcess | undefined;
let second: FastifyInstance | undefined;
let secondUrl: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  world = await World.start();
  const databaseUrl = (world.handle as { databaseUrl?: string }).databaseUrl;
  if (databaseUrl) {
    // PostgreSQL: a second, real server process on the same database.
    const port = await freePort();
    secondUrl = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        JWT_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        KITH_WEBHOOK_WORKER: 'false',
        KITH_DATA_DIR: mkdtempSync(join(tmpdir(), 'kith-b-')),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${secondUrl}/readyz`).catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error('the second server did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
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
  if (child) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
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
