import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { JWT_SECRET, World } from '../helpers/world.js';

/**
 * A refused WebSocket upgrade is a complete HTTP answer: 401, the JSON error body,
 * WWW-Authenticate, `Connection: close`, then an orderly close — never a reset, which clients on
 * a keep-alive connection (Node's agent, browsers' proxies) report as ECONNRESET.
 */

let world: World;
const tokens: Array<[string, () => Promise<string>]> = [];
before(async () => {
  world = await World.start();
  const member = await world.user();
  const inactive = await world.user({ is_active: false });
  const now = Math.floor(Date.now() / 1000);
  const claims = (userId: number) => ({
    user_id: userId,
    token_type: 'access',
    jti: randomUUID(),
    iat: now,
    exp: now + 600,
  });
  const sign = (body: Record<string, unknown>, secret = JWT_SECRET, alg = 'HS256') =>
    new SignJWT(body).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
  tokens.push(
    ['garbage', async () => 'garbage'],
    ['token-shaped garbage', async () => 'eyJhbGciOiJIUzI1NiJ9.e30.xxx'],
    ['a bad signature', () => sign(claims(member.id), `${JWT_SECRET}-other`)],
    ['another algorithm (HS512)', () => sign(claims(member.id), JWT_SECRET, 'HS512')],
    ['expired', () => sign({ ...claims(member.id), iat: now - 7200, exp: now - 3600 })],
    ['an unknown user', () => sign(claims(2_000_000_000))],
    ['an inactive user', () => sign(claims(inactive.id))],
    ['oversized', async () => `${'a'.repeat(8000)}.${'b'.repeat(400)}.c`],
  );
});
after(() => world.close());

const port = () => Number(new URL(world.baseUrl).port);

function upgradeHeaders(protocol: string | undefined) {
  return [
    'GET /ws/notify?subscribe-user HTTP/1.1',
    `Host: 127.0.0.1:${port()}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${Buffer.from(randomUUID().slice(0, 16)).toString('base64')}`,
    ...(protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${protocol}`]),
  ];
}

/** A raw upgrade on a fresh socket: everything the server wrote, and how the socket ended. */
function rawUpgrade(protocol: string | undefined): Promise<{ text: string; ending: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port(), '127.0.0.1');
    const chunks: Buffer[] = [];
    let ending = 'end';
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ending = error.code ?? error.message;
    });
    socket.on('close', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), ending }));
    socket.setTimeout(5000, () => {
      ending = 'timeout';
      socket.destroy();
    });
    socket.write(`${upgradeHeaders(protocol).join('\r\n')}\r\n\r\n`);
  });
}

function assertRefusal(text: string, label: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  assert.match(lines[0] ?? '', /^HTTP\/1\.1 401 /, `${label}: ${lines[0]}`);
  const headers = new Map(
    lines
      .slice(1)
      .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  assert.match(headers.get('www-authenticate') ?? '', /^Bearer/, label);
  assert.equal(headers.get('connection'), 'close', label);
  assert.match(headers.get('content-type') ?? '', /^application\/json/, label);
  assert.equal(Number(headers.get('content-length')), Buffer.byteLength(body), label);
  const parsed = JSON.parse(body);
  assert.equal(typeof parsed.detail, 'string', label);
  assert.equal(parsed.code, 'authentication_failed', label);
}

describe('a refused upgrade is a complete 401 and an orderly close', () => {
  test('raw upgrades, each bad token kind 5 times', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['no sub-protocol', undefined],
      ['no token in it', 'chat'],
    ];
    for (const [label, make] of tokens) cases.push([label, `__${await make()}`]);
    for (const [label, protocol] of cases) {
      for (let i = 0; i < 5; i++) {
        const { text, ending } = await rawUpgrade(protocol);
        assert.equal(ending, 'end', `${label} #${i}: the socket ended with ${ending}`);
        assertRefusal(text, `${label} #${i}`);
      }
    }
  });

  test("Node's keep-alive agent gets the 401 as a response, never ECONNRESET", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const all = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const [label, make] = tokens[i % tokens.length]!;
          const protocol = `__${await make()}`;
          return new Promise<string>((resolve) => {
            const request = http.request({
              host: '127.0.0.1',
              port: port(),
              path: '/ws/notify?subscribe-user',
              agent,
              headers: Object.fromEntries(
                upgradeHeaders(protocol)
                  .slice(1)
                  .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
              ),
            });
            request.on('response', (response) => {
              let body = '';
              response.on('data', (chunk) => {
                body += chunk;
              });
              response.on('end', () => resolve(`${label}: ${response.statusCode} ${JSON.parse(body).code}`));
              response.on('error', (error) => resolve(`${label}: response ${error.message}`));
            });
            request.on('upgrade', () => resolve(`${label}: upgraded`));
            request.on('error', (error: NodeJS.ErrnoException) => resolve(`${label}: ${error.code ?? error.message}`));
            request.end();
          });
        }),
      );
      assert.deepEqual(
        all,
        all.map((line) => `${line.slice(0, line.indexOf(':'))}: 401 authentication_failed`),
      );
    } finally {
      agent.destroy();
    }
  });

  test('a valid token still upgrades (control)', async () => {
    const member = await world.user();
    const { text } = await new Promise<{ text: string }>((resolve) => {
      const socket = net.connect(port(), '127.0.0.1');
      socket.once('data', (chunk) => {
        socket.destroy();
        resolve({ text: chunk.toString('utf8') });
      });
      socket.write(`${upgradeHeaders(`__${member.token}`).join('\r\n')}\r\n\r\n`);
    });
    assert.match(text, /^HTTP\/1\.1 101 /);
  });
});
