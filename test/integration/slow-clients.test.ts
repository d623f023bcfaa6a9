import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { embeddedEnv, ServerProcess } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

const newDataDir = tempDirs('kith-slow-');
let server: ServerProcess;
before(async () => {
  server = await ServerProcess.spawn({ env: embeddedEnv(newDataDir(), { KITH_REQUEST_TIMEOUT: '1500' }) });
});
after(() => server.stop());

/** Sends `head` then `rest` one byte every `everyMs`; resolves with what came back and how the socket ended. */
function trickle(head: string, rest: string, everyMs: number) {
  return new Promise<{ text: string; ending: string; ms: number }>((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    let ending = 'end';
    let i = 0;
    const timer = setInterval(() => {
      if (i < rest.length && socket.writable) socket.write(rest[i++]!);
    }, everyMs);
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ending = error.code ?? error.message;
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, ending, ms: Date.now() - started });
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(head);
  });
}

test('a body sent a byte at a time is cut at the request timeout with a 408 JSON answer; others are served meanwhile', async () => {
  const slow = trickle(
    'POST /oauth/token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n',
    '{"grant_type":"password","username":"admin","password":"not-the-password-at-all-xx"}',
    200,
  );
  const meanwhile = await fetch(`${server.url}/healthz`);
  assert.equal(meanwhile.status, 200);
  const { text, ending, ms } = await slow;
  assert.match(text, /^HTTP\/1\.1 408 /, text);
  assert.match(text, /"code":"request_timeout"/);
  assert.equal(ending, 'end');
  assert.ok(ms < 6000, `cut after ${ms} ms`);
});

test('headers sent a byte at a time are cut too', async () => {
  const { text, ms } = await trickle(
    '',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n',
    200,
  );
  assert.match(text, /^HTTP\/1\.1 408 /, text);
  assert.ok(ms < 6000, `cut after ${ms} ms`);
});

/** Sends a chunked body of `bytes` in 64 KiB chunks; resolves with what came back and how the socket ended. */
function chunkedUpload(bytes: number) {
  return new Promise<{ text: string; ending: string }>((resolve) => {
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    let text = '';
    let ending = 'end';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ending = error.code ?? error.message;
    });
    socket.on('close', () => resolve({ text, ending }));
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(
      'POST /oauth/token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes && socket.writable) {
        sent += chunk.length;
        const more = socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        if (!more) return void socket.once('drain', pump);
      }
      if (socket.writable) socket.write('0\r\n\r\n');
    };
    pump();
  });
}

test('a chunked 2 MiB body gets a 413 JSON answer, not a reset', async () => {
  const { text } = await chunkedUpload(2 * 1024 * 1024);
  assert.match(text, /^HTTP\/1\.1 413 /, text.slice(0, 200));
  assert.match(text, /"code":"payload_too_large"/);
});

test('200 sockets trickling headers beside normal traffic: the normal requests are all served, the slow ones all cut', async () => {
  const slow = Array.from({ length: 200 }, () =>
    trickle('', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n', 250),
  );
  const statuses: number[] = [];
  for (let round = 0; round < 10; round++) {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${server.url}/api/v2/dynamic_preference/`).then((r) => r.status)),
    );
    statuses.push(...answers);
  }
  assert.deepEqual(new Set(statuses), new Set([200]), `normal answers: ${statuses.join(',')}`);
  const ends = await Promise.all(slow);
  const cut = ends.filter(({ text }) => /^HTTP\/1\.1 408 /.test(text)).length;
  assert.equal(cut, 200, `slow sockets cut with a 408: ${cut}`);
});

test('a chunked body that never ends is cut at the request timeout, after its 413', async () => {
  const started = Date.now();
  const { text } = await chunkedUpload(Number.POSITIVE_INFINITY);
  assert.match(text, /^HTTP\/1\.1 413 /, text.slice(0, 200));
  assert.ok(Date.now() - started < 9000, `cut after ${Date.now() - started} ms`);
});
