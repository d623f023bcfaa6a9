import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { encodeCursor } from '../../src/http/pagination.js';
import { hashPassword } from '../../src/services/users.js';
import { type ApiResponse, JWT_SECRET, type Member, unique, World } from '../helpers/world.js';

let world: World;
let member: Member;
before(async () => {
  world = await World.start();
  member = await world.user();
});
after(() => world.close());

const now = () => Math.floor(Date.now() / 1000);

/** A token with exactly these claims, signed HS256 with the server's secret unless told otherwise. */
function sign(claims: Record<string, unknown>, options: { alg?: string; secret?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

const claimsFor = (userId: unknown) => ({
  user_id: userId,
  token_type: 'access',
  exp: now() + 600,
  iat: now(),
  jti: randomUUID(),
});

async function asHeader(authorization: string, path = '/api/v2/user/me/'): Promise<ApiResponse> {
  return world.request('GET', path, { headers: { authorization } });
}

/**
 * The request lists: they load the token's user in their page statement, not in the auth hook.
 * The last one seeks with a cursor minted for that member's list (its own statement shape).
 */
const LISTS = (userId: number) => [
  '/api/v2/user/connection/requests/',
  '/api/v2/user/connection_requests/',
  '/api/v2/user/connection/requests/?rejected=true',
  '/api/v2/user/connection/requests_sent/',
  '/api/v2/user/connection/requests/?offset=5000',
  `/api/v2/user/connection/requests/?limit=20&offset=20&cursor=${encodeCursor(
    { list: `pending:${userId}`, window: { limit: 20, offset: 20 } },
    { micros: String(Date.now() * 1000), id: 1 },
  )}`,
];

function assert401(response: ApiResponse, label: string) {
  assert.equal(response.status, 401, `${label}: ${response.status} ${response.text}`);
  const challenge = response.headers.get('www-authenticate');
  assert.ok(challenge?.startsWith('Bearer'), `${label}: WWW-Authenticate is ${challenge}`);
  assert.equal(typeof response.body.detail, 'string');
  assert.ok(['not_authenticated', 'authentication_failed'].includes(response.body.code), response.body.code);
}

// Forged and tampered tokens (the RFC 8725 catalogue) are test/integration/forged-tokens.test.ts's.
describe('bad tokens: 401 with WWW-Authenticate: Bearer', () => {
  test('an inactive user', async () => {
    const gone = await world.user({ is_active: false });
    for (const path of ['/api/v2/user/me/', ...LISTS(gone.id)]) {
      assert401(await asHeader(`Bearer ${gone.token}`, path), `inactive (${path})`);
    }
  });

  test('a user deactivated after the token was issued', async () => {
    const soon = await world.user();
    for (const path of ['/api/v2/user/me/', ...LISTS(soon.id)]) {
      assert.equal((await asHeader(`Bearer ${soon.token}`, path)).status, 200, path);
    }
    await world.db.updateTable('users').set({ is_active: false }).where('id', '=', soon.id).execute();
    for (const path of ['/api/v2/user/me/', ...LISTS(soon.id)]) {
      assert401(await asHeader(`Bearer ${soon.token}`, path), `deactivated (${path})`);
    }
  });

  for (const header of [
    'Bearer',
    'Bearer ',
    'Bearer garbage',
    'Bearer a.b.c',
    'Bearer x y',
    'Basic dXNlcjpwYXNz',
    'JWT abc',
    'garbage',
    '...',
  ]) {
    test(`Authorization: ${JSON.stringify(header)}`, async () => {
      assert401(await asHeader(header), header);
    });
  }

  test('the valid token of the header check works (control)', async () => {
    const token = await sign(claimsFor(member.id));
    const response = await asHeader(`Bearer ${token}`);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.id, member.id);
  });
});

describe('accepted schemes', () => {
  for (const scheme of ['Bearer', 'Token', 'bearer', 'token', 'BEARER']) {
    test(`"${scheme} <jwt>"`, async () => {
      const response = await asHeader(`${scheme} ${member.token}`);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.id, member.id);
      assert.equal(response.body.username, member.username);
    });
  }

  test('"Token <jwt>" on a friendship action', async () => {
    const them = await world.user();
    const response = await world.request('POST', `/api/v2/user/${them.id}/connection/request/`, {
      headers: { authorization: `Token ${member.token}`, 'content-type': 'application/json' },
      raw: '',
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body, { connection_status: 'sent_connection_request' });
  });

  test("the JWT page's own sample: jti is new Date().getTime(), a number", async () => {
    // auth/jwt.md signs {user_id, token_type, jti: new Date().getTime()} with jsonwebtoken and
    // expiresIn "1h", which adds iat and exp in seconds: the same claims, minted here with jose.
    const claims: Record<string, unknown> = { user_id: member.id, token_type: 'access', jti: Date.now() };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    assert.equal(typeof decodeJwt(token).jti, 'number');
    const response = await asHeader(`Bearer ${token}`);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.id, member.id);
  });

  test('a token issued a few seconds ahead of our clock is fine (skew)', async () => {
    const token = await sign({ ...claimsFor(member.id), iat: now() + 20 });
    assert.equal((await asHeader(`Bearer ${token}`)).status, 200);
  });

  test('a token with extra claims (ext_id) is fine', async () => {
    const token = await sign({ ...claimsFor(member.id), ext_id: 'abc' });
    assert.equal((await asHeader(`Bearer ${token}`)).status, 200);
  });
});

describe('POST /oauth/token/', () => {
  const PASSWORD = 'Secret-pass-1';
  let owner: Member;
  before(async () => {
    owner = await world.user({ password_hash: await hashPassword(PASSWORD), email: null });
  });

  function assertTokenResponse(response: ApiResponse) {
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(Object.keys(response.body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.expires_in, 3600);
    assert.equal(typeof response.body.scope, 'string');
    assert.equal(typeof response.body.refresh_token, 'string');
    assert.ok(response.body.refresh_token.length >= 20);
    const header = decodeProtectedHeader(response.body.access_token);
    assert.equal(header.alg, 'HS256');
    const claims = decodeJwt(response.body.access_token);
    assert.equal(claims.user_id, owner.id);
    assert.equal(claims.token_type, 'access');
    assert.equal(typeof claims.jti, 'string');
    assert.equal(typeof claims.iat, 'number');
    assert.equal(claims.exp, (claims.iat as number) + 3600);
  }

  async function me(accessToken: string) {
    const response = await world.get('/api/v2/user/me/', accessToken);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.id, owner.id);
  }

  test('password grant, JSON', async () => {
    const response = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: owner.username,
      password: PASSWORD,
    });
    assertTokenResponse(response);
    await me(response.body.access_token);
  });

  test('password grant, form-encoded (with client credentials, which are ignored)', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: owner.username,
      password: PASSWORD,
      client_id: 'some-client',
    });
    const response = await world.request('POST', '/oauth/token/', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: form.toString(),
    });
    assertTokenResponse(response);
    await me(response.body.access_token);
  });

  test('the username is matched case-insensitively', async () => {
    const response = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: owner.username.toUpperCase(),
      password: PASSWORD,
    });
    assertTokenResponse(response);
  });

  for (const [label, body] of [
    ['a wrong password', { grant_type: 'password', username: 'OWNER', password: 'Wrong-pass-1' }],
    ['an unknown user', { grant_type: 'password', username: 'nobody_at_all_here', password: PASSWORD }],
  ] as const) {
    test(`${label}: 400 invalid_grant`, async () => {
      const response = await world.post('/oauth/token/', null, {
        ...body,
        username: body.username === 'OWNER' ? owner.username : body.username,
      });
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.code, 'invalid_grant');
      assert.equal(response.body.error, 'invalid_grant');
      assert.equal(typeof response.body.detail, 'string');
      assert.equal(response.body.access_token, undefined);
    });
  }

  test('a user without a password, or an inactive one, cannot sign in', async () => {
    const nopass = await world.user();
    const inactive = await world.user({ password_hash: await hashPassword(PASSWORD), is_active: false });
    for (const username of [nopass.username, inactive.username]) {
      const response = await world.post('/oauth/token/', null, {
        grant_type: 'password',
        username,
        password: PASSWORD,
      });
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.code, 'invalid_grant');
    }
  });

  test('missing fields and unknown grants: 400', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ grant_type: 'password', password: PASSWORD }, 'invalid'],
      [{ grant_type: 'password', username: owner.username }, 'invalid'],
      [{ grant_type: 'refresh_token' }, 'invalid'],
      [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
      [{ username: owner.username, password: PASSWORD }, 'invalid'],
    ];
    for (const [body, code] of cases) {
      const response = await world.post('/oauth/token/', null, body);
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
      assert.equal(response.body.code, code, JSON.stringify(body));
      assert.equal(typeof response.body.detail, 'string');
    }
  });

  test('refresh_token grant rotates: the old refresh token fails the second time', async () => {
    const first = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: owner.username,
      password: PASSWORD,
    });
    assertTokenResponse(first);
    const second = await world.post('/oauth/token/', null, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
    });
    assertTokenResponse(second);
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.notEqual(second.body.access_token, first.body.access_token);
    await me(second.body.access_token);

    // The new one works once, form-encoded too.
    const third = await world.request('POST', '/oauth/token/', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token }).toString(),
    });
    assertTokenResponse(third);
  });

  test('a used refresh token presented again fails and revokes its whole family', async () => {
    const refresh = (token: string) =>
      world.post('/oauth/token/', null, { grant_type: 'refresh_token', refresh_token: token });
    const signIn = () =>
      world.post('/oauth/token/', null, { grant_type: 'password', username: owner.username, password: PASSWORD });
    const stolen = await signIn();
    const otherDevice = await signIn(); // another sign-in: another family, untouched
    const thief = await refresh(stolen.body.refresh_token);
    assertTokenResponse(thief);
    // The member's client replays the token the thief already used: both lose the family.
    const replay = await refresh(stolen.body.refresh_token);
    assert.equal(replay.status, 400, replay.text);
    assert.equal(replay.body.code, 'invalid_grant');
    const thiefAgain = await refresh(thief.body.refresh_token);
    assert.equal(thiefAgain.status, 400, thiefAgain.text);
    assert.equal(thiefAgain.body.code, 'invalid_grant');
    assertTokenResponse(await refresh(otherDevice.body.refresh_token));
  });

  test('the password grant takes about as long for an unknown username as for a wrong password', async () => {
    const time = async (username: string) => {
      const started = performance.now();
      const response = await world.post('/oauth/token/', null, {
        grant_type: 'password',
        username,
        password: 'Wrong-pass-1',
      });
      assert.equal(response.status, 400);
      return performance.now() - started;
    };
    await time(owner.username); // warm both paths
    await time(unique('nobody'));
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      known.push(await time(owner.username));
      unknown.push(await time(unique('nobody')));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    // Both verify an argon2 hash: an unknown username is not several times faster.
    assert.ok(median(unknown) > median(known) / 3, `unknown ${median(unknown)} ms, known ${median(known)} ms`);
  });

  test('a refresh token cannot be used as an access token, nor an access token as a refresh token', async () => {
    const issued = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: owner.username,
      password: PASSWORD,
    });
    assert401(await asHeader(`Bearer ${issued.body.refresh_token}`), 'refresh as access');
    const response = await world.post('/oauth/token/', null, {
      grant_type: 'refresh_token',
      refresh_token: issued.body.access_token,
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'invalid_grant');
  });

  test('an expired refresh token fails', async () => {
    const issued = await world.post('/oauth/token/', null, {
      grant_type: 'password',
      username: owner.username,
      password: PASSWORD,
    });
    await world.db
      .updateTable('refresh_tokens')
      .set({ expires: new Date(Date.now() - 1000) })
      .where('user_id', '=', owner.id)
      .execute();
    const response = await world.post('/oauth/token/', null, {
      grant_type: 'refresh_token',
      refresh_token: issued.body.refresh_token,
    });
    assert.equal(response.status, 400, response.text);
    assert.equal(response.body.code, 'invalid_grant');
  });

  test('malformed JSON to the token endpoint: 400', async () => {
    const response = await world.request('POST', '/oauth/token/', {
      headers: { 'content-type': 'application/json' },
      raw: '{"grant_type": ',
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'parse_error');
  });
});

describe('anonymous access and roles', () => {
  const REQUIRED: Array<[string, string, unknown?]> = [
    ['GET', '/api/v2/user/me/'],
    ['GET', '/api/v2/user/'],
    ['PATCH', '/api/v2/user/2/', { bio: 'x' }],
    ['GET', '/api/v2/user/connection/requests/'],
    ['GET', '/api/v2/user/connection_requests/'],
    ['GET', '/api/v2/user/connection/requests_sent/'],
    ['GET', '/api/v2/user/2/is_connection/'],
    ['GET', '/api/v2/user/2/connection_status/'],
    ['POST', '/api/v2/user/connection/statuses/', { users: [2] }],
    ['POST', '/api/v2/user/2/connection/request/'],
    ['POST', '/api/v2/user/2/connection/accept/'],
    ['POST', '/api/v2/user/2/connection/reject/'],
    ['POST', '/api/v2/user/2/connection/cancel_request/'],
    ['POST', '/api/v2/user/2/connection/cancel_reject/'],
    ['POST', '/api/v2/user/2/connection/remove/'],
    ['POST', '/api/v2/user/2/connection_requests/mark_seen/'],
    ['POST', '/api/v2/sso/signup/', { username: 'x_anon' }],
    ['POST', '/api/v2/account/create/', { username: 'x_anon', email: 'x@example.com', password: 'Aa1-aaaaaa' }],
    ['PATCH', '/api/v2/dynamic_preference/', { follow_enabled: true }],
  ];
  for (const [method, path, body] of REQUIRED) {
    test(`anonymous ${method} ${path}: 401`, async () => {
      const response = await world.request(method, path, body === undefined ? {} : { body });
      assert401(response, `${method} ${path}`);
      assert.equal(response.body.code, 'not_authenticated');
    });
  }

  const ADMIN: Array<[string, string, unknown]> = [
    ['POST', '/api/v2/sso/signup/', { username: 'x_member_made' }],
    ['POST', '/api/v2/account/create/', { username: 'x_member_made', email: 'x@example.com', password: 'Aa1-aaaaaa' }],
    ['PATCH', '/api/v2/dynamic_preference/', { follow_enabled: true }],
  ];
  for (const [method, path, body] of ADMIN) {
    test(`member ${method} ${path}: 403`, async () => {
      const response = await world.request(method, path, { token: member.token, body });
      assert.equal(response.status, 403, response.text);
      assert.equal(response.body.code, 'permission_denied');
      assert.equal(typeof response.body.detail, 'string');
    });
  }

  test('a moderator is not an admin', async () => {
    const moderator = await world.user({ role: 'moderator' });
    const response = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: moderator.token,
      body: { follow_enabled: true },
    });
    assert.equal(response.status, 403);
  });

  test('the admin (user 1) can; a second admin can too', async () => {
    const first = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: await world.adminToken(),
      body: { application_name: 'kith-auth-test' },
    });
    assert.equal(first.status, 200, first.text);
    const second = await world.user({ role: 'admin' });
    const response = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: second.token,
      body: { application_name: 'kith' },
    });
    assert.equal(response.status, 200, response.text);
  });

  test('public endpoints answer anonymous visitors', async () => {
    for (const path of ['/api/v2/user/1/', '/api/v2/user/1/counters/', '/api/v2/user/1/connections/']) {
      const response = await world.get(path, null);
      assert.equal(response.status, 200, `${path}: ${response.text}`);
    }
  });
});
