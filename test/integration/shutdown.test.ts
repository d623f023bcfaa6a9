import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { signAccessToken } from '../../src/services/tokens.js';
import { embeddedEnv, ServerProcess } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

const newDataDir = tempDirs('kith-shutdown-');
const SECRET = 'a-shutdown-test-secret-long-enough-0123456789';

test('SIGTERM with a request in flight on a keep-alive connection: it is answered with Connection: close, and the process exits 0 at once', async () => {
  const server = await ServerProcess.spawn({ env: { ...embeddedEnv(newDataDir()), JWT_SECRET: SECRET } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const token = await signAccessToken(SECRET, 1, 600);
    const { port } = new URL(server.url);
    // A warm keep-alive connection, then a request on it whose body is still being sent.
    const first = await fetchOn(agent, port, token, '{"users":[1]}');
    assert.equal(first.status, 200);
    assert.equal(first.connection, 'keep-alive');
    const body = '{"users":[1]}';
    let send!: () => void;
    const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v2/user/connection/statuses/',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection }));
        },
      );
      request.on('error', reject);
      request.write(body.slice(0, 5));
      send = () => request.end(body.slice(5));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    send();
    assert.deepEqual(await answered, { status: 200, connection: 'close' });
    assert.equal(await exited, 0);
    assert.ok(Date.now() - started < 10_000, `exited after ${Date.now() - started} ms`);
  } finally {
    agent.destroy();
    await server.stop();
  }
});

function fetchOn(agent: http.Agent, port: string, token: string, body: string) {
  return new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v2/user/connection/statuses/',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, connection: response.headers.connection }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

test('SIGTERM with 200 requests in flight: every one is answered, and the process exits 0 within 10 s', async () => {
  const server = await ServerProcess.spawn({ env: { ...embeddedEnv(newDataDir()), JWT_SECRET: SECRET } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
  try {
    const token = await signAccessToken(SECRET, 1, 600);
    const { port } = new URL(server.url);
    const body = '{"users":[1]}';
    const sends: Array<() => void> = [];
    const headersRead: Array<Promise<void>> = [];
    // 200 requests whose headers the server has read and whose bodies are still to come when the signal comes.
    const answers = Array.from(
      { length: 200 },
      () =>
        new Promise<number | string>((resolve) => {
          const request = http.request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/api/v2/user/connection/statuses/',
              agent,
              headers: {
                authorization: `Bearer ${token}`,
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(body),
                // The server answers 100 Continue once it has read the headers: then the request is
                // in flight on the server's side, not only in the kernel's queue.
                expect: '100-continue',
              },
            },
            (response) => {
              response.resume();
              response.on('end', () => resolve(response.statusCode!));
            },
          );
          request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
          headersRead.push(new Promise((done) => request.once('continue', () => done())));
          request.flushHeaders();
          sends.push(() => request.end(body));
        }),
    );
    await Promise.all(headersRead);
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const send of sends) send();
    const statuses = await Promise.all(answers);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      'every request in flight is answered 200',
    );
    assert.equal(await exited, 0);
    assert.ok(Date.now() - started < 10_000, `exited after ${Date.now() - started} ms`);
  } finally {
    agent.destroy();
    await server.stop();
  }
});
