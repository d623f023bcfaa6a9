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
