import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { JWT_SECRET, openTestDatabase } from '../helpers/world.js';

// The app with a real pino logger writing into `lines`, at `level`.

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { url: string };
}

const DEBUG = 20;
const INFO = 30;

let handle: DatabaseHandle;
before(async () => {
  handle = await openTestDatabase();
});
after(() => handle.close());

async function appLogging(level: string): Promise<{ app: FastifyInstance; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({
    config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false },
    db: handle.db,
    logger: { level, stream },
  });
  return { app, lines };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  test('each request gets a new UUID, echoed in X-Request-Id and used in its log lines', async () => {
    const { app, lines } = await appLogging('info');
    const ids = new Set<string>();
    for (const url of ['/api/v2/user/1/', '/api/v2/user/me/', '/nope']) {
      const response = await app.inject({ url });
      const id = String(response.headers['x-request-id']);
      assert.match(id, UUID, url);
      ids.add(id);
      const logged = lines.filter((line) => line.reqId === id).map((line) => line.msg);
      assert.ok(logged.includes('incoming request'), `${url}: ${logged}`);
    }
    assert.equal(ids.size, 3);
    // A second app (another process, or the same one restarted) never counts again from the same start.
    const { app: again } = await appLogging('info');
    const other = await again.inject({ url: '/api/v2/user/1/' });
    assert.equal(ids.has(String(other.headers['x-request-id'])), false);
    await Promise.all([app.close(), again.close()]);
  });

  test('a sane incoming X-Request-Id is kept and echoed; anything else is replaced', async () => {
    const { app, lines } = await appLogging('info');
    for (const given of ['abc', '1-67891233-abcdef012345678912345678', 'a.b_c:d-e', 'x'.repeat(128)]) {
      const response = await app.inject({ url: '/api/v2/user/1/', headers: { 'x-request-id': given } });
      assert.equal(response.headers['x-request-id'], given);
      assert.ok(lines.some((line) => line.reqId === given && line.msg === 'request completed'));
    }
    for (const given of ['', 'x'.repeat(129), 'two words', 'a/b', 'é', '<script>', 'a\tb', 'Root=1']) {
      const response = await app.inject({ url: '/api/v2/user/1/', headers: { 'x-request-id': given } });
      const id = String(response.headers['x-request-id']);
      assert.match(id, UUID, JSON.stringify(given));
    }
    await app.close();
  });
});

describe('health probes in the log', () => {
  test('at info, /healthz and /readyz write nothing; other requests write their lines', async () => {
    const { app, lines } = await appLogging('info');
    for (const url of ['/healthz', '/readyz']) assert.equal((await app.inject({ url })).statusCode, 200);
    assert.equal(lines.length, 0, JSON.stringify(lines));
    await app.inject({ url: '/api/v2/user/1/' });
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        [INFO, 'incoming request'],
        [INFO, 'request completed'],
      ],
    );
    await app.close();
  });

  test('at debug, the probes are logged at debug', async () => {
    const { app, lines } = await appLogging('debug');
    for (const url of ['/healthz', '/readyz']) await app.inject({ url });
    const probes = lines.filter((line) => line.msg === 'incoming request' || line.msg === 'request completed');
    assert.equal(probes.length, 4);
    for (const line of probes) assert.equal(line.level, DEBUG);
    assert.deepEqual(
      probes.filter((line) => line.req).map((line) => line.req?.url),
      ['/healthz', '/readyz'],
    );
    await app.close();
  });
});
