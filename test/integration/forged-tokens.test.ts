import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CompactSign, exportJWK, SignJWT } from 'jose';
import { encodeCursor } from '../../src/http/pagination.js';
import { rawRequest } from '../helpers/socket.js';
import { type ApiResponse, JWT_SECRET, type Member, World } from '../helpers/world.js';

/**
 * A catalogue of forged, tampered and misused tokens — every case of RFC 8725 (JWT best current
 * practices) that applies to an HS256 server, and more — each refused with a 401 JSON answer on
 * routes of every kind (required, admin, public, optional, an action, the request lists that load
 * the member in their own statement) and on the realtime WebSocket upgrade.
 */

let world: World;
let member: Member;
let adminToken: string;
before(async () => {
  world = await World.start();
  member = await world.user();
  adminToken = await world.adminToken();
});
after(() => world.close());

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hmac = (input: string, secret: string | Buffer = JWT_SECRET) =>
  createHmac('sha256', secret).update(input).digest('base64url');

const claimsFor = (userId: unknown) => ({
  user_id: userId,
  token_type: 'access',
  exp: now() + 600,
  iat: now(),
  jti: randomUUID(),
});

/** A token with exactly these claims and header, HMAC-SHA256-signed with `secret` (the server's unless told). */
function handMade(header: Record<string, unknown>, claims: unknown, secret: string | Buffer = JWT_SECRET) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${hmac(input, secret)}`;
}

/** A token as jose signs it (HS256 with the server's secret unless told). */
function sign(claims: Record<string, unknown>, options: { alg?: string; secret?: string; typ?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: options.typ ?? 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** An attacker's own RSA key, and a token it signs with its public key named in the header. */
async function selfSigned(header: Record<string, unknown>) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const extra = typeof header.jwk === 'string' ? { ...header, jwk } : header;
  return new SignJWT(claimsFor(member.id)).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...extra }).sign(privateKey);
}

/** Each case: a label and the Authorization header value it sends (`Bearer <forged>` for most). */
type Forged = [label: string, make: () => Promise<string>];
const bearer = (make: () => Promise<string> | string) => async () => `Bearer ${await make()}`;

const CATALOGUE: Forged[] = [
  // Algorithms (RFC 8725 §2.1, §3.1): only HS256 is accepted.
  ['alg none, no signature', bearer(() => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsFor(member.id))}.`)],
  ['alg None', bearer(() => `${b64({ alg: 'None', typ: 'JWT' })}.${b64(claimsFor(member.id))}.`)],
  ['alg NONE', bearer(() => `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64(claimsFor(member.id))}.`)],
  [
    'alg none with a valid signature part',
    bearer(async () => {
      const valid = await sign(claimsFor(member.id));
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsFor(member.id))}.${valid.split('.')[2]}`;
    }),
  ],
  ['no alg at all', bearer(() => handMade({ typ: 'JWT' }, claimsFor(member.id)))],
  ['HS384 with the right secret', bearer(() => sign(claimsFor(member.id), { alg: 'HS384' }))],
  ['HS512 with the right secret', bearer(() => sign(claimsFor(member.id), { alg: 'HS512' }))],
  // Key confusion (§2.1): an asymmetric algorithm claimed, the HMAC secret as the "public key".
  ['RS256 claimed, HMAC-signed with the secret', bearer(() => handMade({ alg: 'RS256' }, claimsFor(member.id)))],
  ['ES256 claimed, HMAC-signed with the secret', bearer(() => handMade({ alg: 'ES256' }, claimsFor(member.id)))],
  ['PS256 claimed, HMAC-signed with the secret', bearer(() => handMade({ alg: 'PS256' }, claimsFor(member.id)))],
  ['EdDSA claimed, HMAC-signed with the secret', bearer(() => handMade({ alg: 'EdDSA' }, claimsFor(member.id)))],
  // Signatures.
  ['signed with another secret', bearer(() => sign(claimsFor(member.id), { secret: `${JWT_SECRET}-other` }))],
  ['signed with an empty secret', bearer(() => handMade({ alg: 'HS256', typ: 'JWT' }, claimsFor(member.id), ''))],
  [
    'an empty signature',
    bearer(async () => {
      const [header, payload] = (await sign(claimsFor(member.id))).split('.');
      return `${header}.${payload}.`;
    }),
  ],
  ['a truncated signature', bearer(async () => (await sign(claimsFor(member.id))).slice(0, -4))],
  [
    'one character of the signature changed',
    bearer(async () => {
      const token = await sign(claimsFor(member.id));
      return `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
    }),
  ],
  [
    'payload changed to the admin, signature kept',
    bearer(async () => {
      const [header, , signature] = (await sign(claimsFor(member.id))).split('.');
      return `${header}.${b64(claimsFor(1))}.${signature}`;
    }),
  ],
  [
    'header changed, signature kept',
    bearer(async () => {
      const [, payload, signature] = (await sign(claimsFor(member.id))).split('.');
      return `${b64({ alg: 'HS256', typ: 'JWT', kid: '1' })}.${payload}.${signature}`;
    }),
  ],
  // Keys named by the header (§3.10 and the jku/jwk/x5u/kid attacks): never looked up, never trusted.
  [
    'kid path traversal, signed with an empty key',
    bearer(() => handMade({ alg: 'HS256', typ: 'JWT', kid: '../../../../../dev/null' }, claimsFor(member.id), '')),
  ],
  [
    "kid SQL injection, signed with the attacker's key",
    bearer(() => handMade({ alg: 'HS256', kid: "x' UNION SELECT 'k" }, claimsFor(member.id), 'k')),
  ],
  ["jwk: the attacker's own public key embedded", bearer(() => selfSigned({ jwk: 'embed' }))],
  ["jku: the attacker's key set by URL", bearer(() => selfSigned({ jku: 'https://attacker.example/jwks.json' }))],
  ["x5u: the attacker's certificate by URL", bearer(() => selfSigned({ x5u: 'https://attacker.example/cert.pem' }))],
  // Critical headers and unencoded payloads: not understood, so refused (RFC 7515 §4.1.11, RFC 7797).
  [
    'crit names an unknown extension',
    bearer(() => handMade({ alg: 'HS256', crit: ['kith-ext'], 'kith-ext': 1 }, claimsFor(member.id))),
  ],
  [
    'b64: false (an unencoded payload)',
    bearer(async () => {
      const payload = JSON.stringify(claimsFor(member.id));
      const header = b64({ alg: 'HS256', b64: false, crit: ['b64'] });
      return `${header}..${createHmac('sha256', JWT_SECRET).update(`${header}.${payload}`).digest('base64url')}`;
    }),
  ],
  // Explicit typing (§3.11) and token kinds.
  ['typ secevent+jwt (another kind of JWT)', bearer(() => sign(claimsFor(member.id), { typ: 'secevent+jwt' }))],
  ['typ dpop+jwt', bearer(() => sign(claimsFor(member.id), { typ: 'dpop+jwt' }))],
  ['token_type refresh', bearer(() => sign({ ...claimsFor(member.id), token_type: 'refresh' }))],
  ['token_type missing', bearer(() => sign({ ...claimsFor(member.id), token_type: undefined }))],
  [
    'a refresh token used as an access token',
    bearer(async () => {
      const created = await world.request('POST', '/api/v2/account/create/', {
        token: adminToken,
        body: {
          username: `forged_${randomUUID().slice(0, 8)}`,
          email: `${randomUUID()}@example.com`,
          password: 'Secret-pass-1',
        },
      });
      const grant = await world.request('POST', '/oauth/token/', {
        body: { grant_type: 'password', username: created.body.username, password: 'Secret-pass-1' },
      });
      assert.equal(grant.status, 200, grant.text);
      return grant.body.refresh_token;
    }),
  ],
  [
    'a JWS whose payload is not a claims object',
    bearer(() =>
      new CompactSign(new TextEncoder().encode('[1]'))
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(JWT_SECRET)),
    ),
  ],
  // Time (§3.10 and RFC 7519 §4.1.4-6).
  ['expired an hour ago', bearer(() => sign({ ...claimsFor(member.id), exp: now() - 3600, iat: now() - 7200 }))],
  ['expired a second ago', bearer(() => sign({ ...claimsFor(member.id), exp: now() - 1 }))],
  ['not valid before an hour from now (nbf)', bearer(() => sign({ ...claimsFor(member.id), nbf: now() + 3600 }))],
  [
    'issued an hour in the future (iat)',
    bearer(() => sign({ ...claimsFor(member.id), iat: now() + 3600, exp: now() + 7200 })),
  ],
  ['exp missing', bearer(() => sign({ ...claimsFor(member.id), exp: undefined }))],
  ['exp as a string', bearer(() => sign({ ...claimsFor(member.id), exp: String(now() + 600) }))],
  ['iat missing', bearer(() => sign({ ...claimsFor(member.id), iat: undefined }))],
  ['jti missing', bearer(() => sign({ ...claimsFor(member.id), jti: undefined }))],
  ['jti empty', bearer(() => sign({ ...claimsFor(member.id), jti: '' }))],
  ['jti a boolean', bearer(() => sign({ ...claimsFor(member.id), jti: true }))],
  ['jti an object', bearer(() => sign({ ...claimsFor(member.id), jti: { id: 1 } }))],
  // The subject (kith's user_id claim).
  ['user_id missing, sub given', bearer(() => sign({ ...claimsFor(undefined), sub: String(member.id) }))],
  ['user_id as a string', bearer(() => sign(claimsFor(String(member.id))))],
  ['user_id negative', bearer(() => sign(claimsFor(-member.id)))],
  ['user_id zero', bearer(() => sign(claimsFor(0)))],
  ['user_id a float', bearer(() => sign(claimsFor(member.id + 0.5)))],
  ['user_id huge (2^53 + 2)', bearer(() => sign(claimsFor(2 ** 53 + 2)))],
  ['user_id beyond 32 bits', bearer(() => sign(claimsFor(2 ** 31)))],
  ['user_id 1e308', bearer(() => handMade({ alg: 'HS256' }, { ...claimsFor(0), user_id: 1e308 }))],
  ['user_id an array', bearer(() => sign(claimsFor([member.id])))],
  ['user_id of nobody', bearer(() => sign(claimsFor(2_000_000_000)))],
  [
    'user_id of a deactivated member',
    bearer(async () => {
      const gone = await world.user();
      await world.db.updateTable('users').set({ is_active: false }).where('id', '=', gone.id).execute();
      return gone.token;
    }),
  ],
  [
    'user_id of a deleted member',
    bearer(async () => {
      const gone = await world.user();
      const deleted = await world.request('DELETE', `/api/v2/user/${gone.id}/`, { token: adminToken });
      assert.equal(deleted.status, 204, deleted.text);
      return gone.token;
    }),
  ],
  // Not a JWS at all.
  [
    'a JWE (five parts)',
    bearer(() => `${b64({ alg: 'dir', enc: 'A256GCM' })}..${b64('iv-iv-iv-iv')}.${b64('ciphertext')}.${b64('tag')}`),
  ],
  ['garbage', bearer(() => 'garbage')],
  ['not base64url', bearer(() => 'eyJ!!.@@@.###')],
  ['a header that is not JSON', bearer(() => `${b64('not json')}.${b64(claimsFor(member.id))}.${hmac('x')}`)],
  ['four parts', bearer(async () => `${await sign(claimsFor(member.id))}.extra`)],
  [
    'a huge token (9 KB, valid shape, wrong signature)',
    bearer(() =>
      sign({ ...claimsFor(member.id), pad: 'x'.repeat(9000) }, { secret: 'other-secret-other-secret-other-secret' }),
    ),
  ],
  ['a huge garbage token (12 KB)', bearer(() => `${'a'.repeat(8000)}.${'b'.repeat(4000)}.c`)],
  // The header itself.
  ['two tokens in one header', async () => `Bearer ${member.token} ${member.token}`],
  ['two schemes', async () => `Bearer ${member.token}, Bearer ${member.token}`],
  ['the Basic scheme', async () => `Basic ${member.token}`],
  ['no scheme', async () => member.token],
  ['the scheme only', async () => 'Bearer'],
];

/**
 * Routes of every kind: required, an action, the request lists (their statement loads the member),
 * admin, public and optional (a bad token is a 401 there too, never a silent anonymous visit).
 */
const ROUTES = (): Array<[string, string, unknown?]> => [
  ['GET', '/api/v2/user/me/'],
  ['POST', '/api/v2/user/1/connection/request/'],
  ['GET', '/api/v2/user/connection/requests/'],
  [
    'GET',
    `/api/v2/user/connection/requests/?limit=20&offset=20&cursor=${encodeCursor(
      { list: `pending:${member.id}`, window: { limit: 20, offset: 20 } },
      { micros: String(Date.now() * 1000), id: 1 },
    )}`,
  ],
  ['PATCH', '/api/v2/dynamic_preference/', { application_name: 'forged' }],
  ['GET', '/api/v2/user/1/'],
  ['GET', '/api/v2/dynamic_preference/'],
];

function assert401(response: ApiResponse, label: string) {
  assert.equal(response.status, 401, `${label}: ${response.status} ${response.text}`);
  assert.ok(response.headers.get('www-authenticate')?.startsWith('Bearer'), `${label}: no WWW-Authenticate`);
  assert.equal(typeof response.body.detail, 'string', label);
  assert.ok(['not_authenticated', 'authentication_failed'].includes(response.body.code), `${label}: ${response.text}`);
}

/** The upgrade of `/ws/notify` with this sub-protocol header: the status it got (101 if it opened). */
async function upgradeStatus(protocol: string) {
  const answer = await rawRequest(world.baseUrl, {
    method: 'GET',
    target: '/ws/notify?subscribe-user',
    headers: {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': Buffer.from(randomUUID().slice(0, 16)).toString('base64'),
      'sec-websocket-protocol': protocol,
    },
  });
  return { status: answer.status, code: answer.json?.code as string | undefined };
}

describe('forged tokens: a 401 on every kind of route, and no WebSocket', () => {
  test('the catalogue covers RFC 8725 and then some', () => {
    assert.ok(CATALOGUE.length >= 20, `${CATALOGUE.length} cases`);
    assert.equal(new Set(CATALOGUE.map(([label]) => label)).size, CATALOGUE.length);
  });

  for (const [label, make] of CATALOGUE) {
    test(label, async () => {
      const authorization = await make();
      for (const [method, path, body] of ROUTES()) {
        const response = await world.request(method, path, {
          headers: {
            authorization,
            ...(body === undefined && method !== 'GET' ? { 'content-type': 'application/json' } : {}),
          },
          ...(body === undefined ? (method === 'GET' ? {} : { raw: '' }) : { body }),
        });
        assert401(response, `${label}: ${method} ${path}`);
      }
      const token = /^Bearer (\S+)$/.exec(authorization)?.[1];
      if (token)
        assert.deepEqual(await upgradeStatus(`__${token}`), { status: 401, code: 'authentication_failed' }, label);
    });
  }

  test('the upgrade takes the first token sub-protocol: a forged one first is refused', async () => {
    const forged = await sign(claimsFor(member.id), { secret: `${JWT_SECRET}-other` });
    assert.equal((await upgradeStatus(`__${forged}, __${member.token}`)).status, 401);
  });

  test('controls: the genuine tokens pass on the same routes and upgrade', async () => {
    for (const [method, path, body] of ROUTES()) {
      const token = path.includes('dynamic_preference/') && method === 'PATCH' ? adminToken : member.token;
      const response = await world.request(method, path, {
        token,
        ...(body === undefined
          ? method === 'GET'
            ? {}
            : { headers: { 'content-type': 'application/json' }, raw: '' }
          : { body }),
      });
      assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${response.text}`);
    }
    assert.equal((await upgradeStatus(`__${member.token}`)).status, 101);
    // Typed as RFC 9068 access tokens, or untyped: still kith's access tokens.
    for (const typ of ['at+jwt', 'application/jwt']) {
      const token = await sign(claimsFor(member.id), { typ });
      assert.equal((await world.get('/api/v2/user/me/', token)).status, 200, typ);
    }
    const untyped = await new SignJWT(claimsFor(member.id))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(JWT_SECRET));
    assert.equal((await world.get('/api/v2/user/me/', untyped)).status, 200, 'untyped');
  });
});
