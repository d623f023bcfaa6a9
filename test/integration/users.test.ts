import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findActiveViewer } from '../../src/db/repositories/users.js';
import { assertIsoZ, assertPage, assertUser, USER_FIELDS } from '../helpers/shapes.js';
import { type ApiResponse, unique, World } from '../helpers/world.js';

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const PASSWORD = 'Good-pass-1';
const name = (prefix = 'user') => unique(prefix).slice(0, 40);

function assert400(response: ApiResponse, field: string) {
  assert.equal(response.status, 400, response.text);
  assert.equal(typeof response.body.detail, 'string');
  assert.ok(response.body.detail.length > 0);
  assert.equal(typeof response.body.code, 'string');
  assert.ok(response.body.errors && field in response.body.errors, `errors names ${field}: ${response.text}`);
}

describe('POST /api/v2/sso/signup/ (admin)', () => {
  test('a minimal signup: 201 with the page shape', async () => {
    const username = name('min');
    const response = await world.post('/api/v2/sso/signup/', admin, { username });
    assert.equal(response.status, 201, response.text);
    assert.deepEqual(Object.keys(response.body).sort(), [
      'avatar',
      'email',
      'ext_id',
      'id',
      'role',
      'tags',
      'username',
    ]);
    assert.equal(typeof response.body.id, 'number');
    assert.equal(response.body.username, username);
    assert.equal(response.body.ext_id, null);
    assert.equal(response.body.email, null);
    assert.equal(response.body.role, null);
    const shown = await world.get(`/api/v2/user/${response.body.id}/`, null);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.username, username);
  });

  test('a full signup; the user can then sign in with the password', async () => {
    const username = name('full');
    const body = {
      username,
      ext_id: `ext-${username}`,
      real_name: 'Full Name',
      email: `${username}@example.com`,
      password: PASSWORD,
      role: 'moderator',
      avatar: 'https://example.com/a.png',
    };
    const response = await world.post('/api/v2/sso/signup/', admin, body);
    assert.equal(response.status, 201, response.text);
    assert.equal(response.body.username, username);
    assert.equal(response.body.ext_id, body.ext_id);
    assert.equal(response.body.email, body.email);
    assert.equal(response.body.role, 'moderator');
    assert.equal(response.body.avatar, body.avatar);
    const token = await world.post('/oauth/token/', null, { grant_type: 'password', username, password: PASSWORD });
    assert.equal(token.status, 200, token.text);
    const me = await world.get('/api/v2/user/me/', token.body.access_token);
    assert.equal(me.body.id, response.body.id);
    assert.equal(me.body.real_name, 'Full Name');
    assert.equal(me.body.ext_id, body.ext_id);
    assert.equal(me.body.email, body.email);
    assert.equal(me.body.role, 'moderator');
  });

  for (const bad of ['with space', 'a@b', 'dot.ted', 'ünïcode', '', 'x'.repeat(256), 'slash/y']) {
    test(`username ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 5)}…(${bad.length})` : bad)}: 400`, async () => {
      assert400(await world.post('/api/v2/sso/signup/', admin, { username: bad }), 'username');
    });
  }

  test('usernames of letters, digits, - and _ are fine (255 characters too)', async () => {
    for (const username of [`A-b_9-${name()}`, `x${'y'.repeat(200)}${name()}`.slice(0, 255)]) {
      const response = await world.post('/api/v2/sso/signup/', admin, { username });
      assert.equal(response.status, 201, response.text);
      assert.equal(response.body.username, username);
    }
  });

  test('a missing username: 400', async () => {
    assert400(await world.post('/api/v2/sso/signup/', admin, { email: 'x@example.com' }), 'username');
  });

  for (const [label, password] of [
    ['7 characters', 'Aa1-aaa'],
    ['129 characters', `Aa1-${'a'.repeat(125)}`],
    ['only lower case', 'abcdefghij'],
    ['two kinds (lower, digits)', 'abcdefgh12'],
    ['two kinds (upper, special)', 'ABCDEFGH!!'],
  ]) {
    test(`password with ${label}: 400 naming password`, async () => {
      assert400(await world.post('/api/v2/sso/signup/', admin, { username: name('pw'), password }), 'password');
    });
  }

  for (const password of ['abcdefG1', 'ABCDEF1!', 'abcdef-!G', `Aa1-${'a'.repeat(124)}`]) {
    test(`password ${password.length > 20 ? `(${password.length} chars)` : password} is fine`, async () => {
      const response = await world.post('/api/v2/sso/signup/', admin, { username: name('pw'), password });
      assert.equal(response.status, 201, response.text);
    });
  }

  test('unique username (case-insensitive), email (case-insensitive) and ext_id: 400 naming the field', async () => {
    const username = name('Uniq');
    const created = await world.post('/api/v2/sso/signup/', admin, {
      username,
      email: `${username}@Example.com`,
      ext_id: `ext-${username}`,
    });
    assert.equal(created.status, 201, created.text);
    assert400(await world.post('/api/v2/sso/signup/', admin, { username }), 'username');
    assert400(await world.post('/api/v2/sso/signup/', admin, { username: username.toLowerCase() }), 'username');
    assert400(await world.post('/api/v2/sso/signup/', admin, { username: username.toUpperCase() }), 'username');
    const email = await world.post('/api/v2/sso/signup/', admin, {
      username: name('other'),
      email: `${username}@example.com`.toUpperCase(),
    });
    assert400(email, 'email');
    assert.ok(!('username' in email.body.errors));
    const ext = await world.post('/api/v2/sso/signup/', admin, { username: name('other'), ext_id: `ext-${username}` });
    assert400(ext, 'ext_id');
    assert.ok(!('username' in ext.body.errors));
  });

  test('two signups racing for one username: one 201, one 400', async () => {
    const username = name('race');
    const responses = await Promise.all(
      Array.from({ length: 4 }, () => world.post('/api/v2/sso/signup/', admin, { username })),
    );
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 400, 400, 400], responses.map((r) => r.text).join('\n'));
    for (const r of responses.filter((x) => x.status === 400)) assert400(r, 'username');
  });

  test('an invalid email or role: 400', async () => {
    assert400(await world.post('/api/v2/sso/signup/', admin, { username: name(), email: 'not-an-email' }), 'email');
    assert400(await world.post('/api/v2/sso/signup/', admin, { username: name(), role: 'superuser' }), 'role');
  });

  test('tags that are no tag ids (infinite, huge, fractional, not numbers): 400, and nobody created', async () => {
    for (const tags of ['1e309', ['1e309'], [1e300], [2 ** 31], [1.5], ['x'], [-1]]) {
      const username = name();
      assert400(await world.post('/api/v2/sso/signup/', admin, { username, tags }), 'tags');
      const found = await world.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
      assert.equal(found, undefined, `tags ${JSON.stringify(tags)} created ${username}`);
    }
    const ok = await world.post('/api/v2/sso/signup/', admin, { username: name(), tags: [1, 2147483647] });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.body.tags, [1, 2147483647]);
  });
});

describe('POST /api/v2/account/create/ (admin)', () => {
  test('201 with a full User', async () => {
    const username = name('acct');
    const response = await world.post('/api/v2/account/create/', admin, {
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
    });
    assert.equal(response.status, 201, response.text);
    assertUser(response.body, { username, connection_status: null });
    const token = await world.post('/oauth/token/', null, { grant_type: 'password', username, password: PASSWORD });
    assert.equal(token.status, 200, token.text);
  });

  for (const field of ['username', 'email', 'password']) {
    test(`without ${field}: 400 naming it`, async () => {
      const username = name('acct');
      const body: Record<string, string> = { username, email: `${username}@example.com`, password: PASSWORD };
      delete body[field];
      assert400(await world.post('/api/v2/account/create/', admin, body), field);
    });
  }

  test('rules: username, password, uniqueness', async () => {
    const username = name('acct');
    const email = `${username}@example.com`;
    assert400(
      await world.post('/api/v2/account/create/', admin, { username: 'bad name', email, password: PASSWORD }),
      'username',
    );
    assert400(
      await world.post('/api/v2/account/create/', admin, { username, email, password: 'weakpassword' }),
      'password',
    );
    assert.equal(
      (await world.post('/api/v2/account/create/', admin, { username, email, password: PASSWORD })).status,
      201,
    );
    assert400(
      await world.post('/api/v2/account/create/', admin, {
        username: username.toUpperCase(),
        email: `x${email}`,
        password: PASSWORD,
      }),
      'username',
    );
    assert400(
      await world.post('/api/v2/account/create/', admin, { username: name(), email, password: PASSWORD }),
      'email',
    );
  });
});

test("a request's member carries no secrets", async () => {
  const member = await world.user({ password_hash: 'not-a-real-hash' });
  const viewer = await findActiveViewer(world.db, member.id);
  assert.equal(viewer?.id, member.id);
  assert.ok(!('password_hash' in viewer!), 'the viewer has no password hash');
});

describe('GET /api/v2/user/me/', () => {
  test('every User field, plus the private ones and the request counters', async () => {
    const me = await world.user({ email: `${name()}@example.com`, real_name: 'Me Myself' });
    const response = await world.get('/api/v2/user/me/', me.token);
    assert.equal(response.status, 200, response.text);
    for (const field of USER_FIELDS) assert.ok(field in response.body, `me has ${field}`);
    assert.equal(response.body.id, me.id);
    assert.equal(response.body.username, me.username);
    assert.equal(response.body.real_name, 'Me Myself');
    assert.equal(response.body.email, me.email);
    assert.equal(response.body.connection_status, null);
    assert.equal(response.body.connections_counter, 0);
    assert.equal(response.body.connection_requests_sent_counter, 0);
    assert.equal(response.body.connection_requests_received_counter, 0);
    assertIsoZ(response.body.date_joined);
    assert.equal(response.body.password_hash, undefined);
    assert.equal(response.body.password, undefined);
  });

  test('the admin is user 1, username admin, role admin', async () => {
    const response = await world.get('/api/v2/user/me/', admin);
    assert.equal(response.status, 200);
    assert.equal(response.body.id, 1);
    assert.equal(response.body.username, 'admin');
    assert.equal(response.body.role, 'admin');
  });
});

describe('GET /api/v2/user/{id}/', () => {
  test('anonymous: a full User with connection_status null; members see their status', async () => {
    const a = await world.user({ real_name: 'Anne' });
    const b = await world.user();
    await world.act(a.token, b.id, 'request');
    const anonymous = await world.get(`/api/v2/user/${a.id}/`, null);
    assert.equal(anonymous.status, 200, anonymous.text);
    assertUser(anonymous.body, { id: a.id, username: a.username, connection_status: null });
    assert.equal(anonymous.body.real_name, 'Anne');
    assert.equal(
      (await world.get(`/api/v2/user/${a.id}/`, b.token)).body.connection_status,
      'received_connection_request',
    );
    assert.equal((await world.get(`/api/v2/user/${a.id}/`, a.token)).body.connection_status, null, 'null for oneself');
  });

  test('unknown and inactive users: 404', async () => {
    const gone = await world.user({ is_active: false });
    for (const id of [2_000_000_000, gone.id]) {
      const response = await world.get(`/api/v2/user/${id}/`, null);
      assert.equal(response.status, 404, response.text);
      assert.equal(response.body.code, 'not_found');
    }
  });

  test('401 for anonymous visitors when content_availability is false', async () => {
    const a = await world.user();
    await world.setPreferences({ content_availability: false });
    try {
      for (const path of [`/api/v2/user/${a.id}/`, `/api/v2/user/${a.id}/counters/`]) {
        const anonymous = await world.get(path, null);
        assert.equal(anonymous.status, 401, anonymous.text);
        assert.ok(anonymous.headers.get('www-authenticate')?.startsWith('Bearer'));
        assert.equal((await world.get(path, a.token)).status, 200);
      }
    } finally {
      await world.setPreferences({ content_availability: true });
    }
    assert.equal((await world.get(`/api/v2/user/${a.id}/`, null)).status, 200);
  });
});

describe('GET /api/v2/user/', () => {
  test('paginated, with search over username and real name', async () => {
    const tag = `zq${Date.now().toString(36)}`;
    const members = [];
    for (let i = 0; i < 5; i++) members.push(await world.user({ username: `${tag}_${i}` }));
    const byName = await world.user({ real_name: `Someone ${tag.toUpperCase()} Else` });
    const inactive = await world.user({ username: `${tag}_inactive`, is_active: false });
    const viewer = await world.user();

    const all = await world.get(`/api/v2/user/?search=${tag}`, viewer.token);
    assert.equal(all.status, 200, all.text);
    assertPage(all.body);
    assert.equal(all.body.count, 6);
    const foundIds = all.body.results.map((u: any) => u.id);
    assert.deepEqual(
      foundIds.sort((x: number, y: number) => x - y),
      [...members.map((m) => m.id), byName.id],
    );
    assert.ok(!foundIds.includes(inactive.id));
    for (const u of all.body.results) assertUser(u, { connection_status: null });

    const page = await world.get(`/api/v2/user/?search=${tag}&limit=2&offset=2`, viewer.token);
    assert.equal(page.body.count, 6);
    assert.equal(page.body.results.length, 2);
    const next = new URL(page.body.next);
    assert.equal(next.searchParams.get('search'), tag);
    assert.equal(next.searchParams.get('offset'), '4');
    const previous = new URL(page.body.previous);
    assert.equal(previous.searchParams.get('search'), tag);
    assert.equal(previous.searchParams.has('offset'), false);

    // Walking the pages gives every match once.
    const seen: number[] = [];
    let url: string | null = `/api/v2/user/?search=${tag}&limit=4`;
    while (url) {
      const r: ApiResponse = await world.get(url, viewer.token);
      seen.push(...r.body.results.map((u: any) => u.id));
      url = r.body.next;
    }
    assert.equal(new Set(seen).size, 6);
    assert.equal(seen.length, 6);

    const none = await world.get('/api/v2/user/?search=no-such-person-anywhere', viewer.token);
    assert.deepEqual(none.body, { count: 0, next: null, previous: null, results: [] });
    // LIKE wildcards are searched literally.
    assert.equal((await world.get('/api/v2/user/?search=%25', viewer.token)).body.count, 0);
  });

  test('the list shows my status towards each user', async () => {
    const me = await world.user();
    const friend = await world.user();
    await world.act(me.token, friend.id, 'request');
    await world.act(friend.token, me.id, 'accept');
    const response = await world.get(`/api/v2/user/?search=${friend.username}`, me.token);
    assert.equal(response.body.count, 1);
    assert.equal(response.body.results[0].connection_status, 'connected');
    assert.equal(response.body.results[0].connections_counter, 1);
  });

  test('bad pagination: 400', async () => {
    const me = await world.user();
    for (const q of ['limit=0', 'offset=-1', 'limit=x']) {
      const response = await world.get(`/api/v2/user/?${q}`, me.token);
      assert.equal(response.status, 400, `${q}: ${response.text}`);
      assert.equal(response.body.code, 'invalid');
    }
  });
});

describe('PATCH /api/v2/user/{id}/', () => {
  const patch = (token: string, id: number, body: unknown) =>
    world.request('PATCH', `/api/v2/user/${id}/`, { token, body });

  test('a PATCH without a body changes nothing and answers the user', async () => {
    const me = await world.user({ real_name: 'Kept' });
    for (const options of [{}, { headers: { 'content-type': 'application/json' }, raw: '' }]) {
      const response = await world.request('PATCH', `/api/v2/user/${me.id}/`, { token: me.token, ...options });
      assert.equal(response.status, 200);
      assert.equal(response.body.real_name, 'Kept');
    }
  });

  test('my own profile text fields', async () => {
    const me = await world.user();
    const changes = {
      real_name: 'New Name',
      bio: 'About me',
      location: 'Rome',
      description: 'short',
      gender: 'Female',
      website: 'https://example.com/me',
      date_of_birth: '1990-05-17',
      position_lat_lng: '41.9,12.5',
    };
    const response = await patch(me.token, me.id, changes);
    assert.equal(response.status, 200, response.text);
    assertUser(response.body, { id: me.id, username: me.username });
    for (const [key, value] of Object.entries(changes)) assert.equal(response.body[key], value, key);
    const again = await world.get(`/api/v2/user/${me.id}/`, null);
    for (const [key, value] of Object.entries(changes)) assert.equal(again.body[key], value, key);
    // A partial update keeps the rest.
    const partial = await patch(me.token, me.id, { bio: 'Changed' });
    assert.equal(partial.body.bio, 'Changed');
    assert.equal(partial.body.real_name, 'New Name');
  });

  test('read-only fields are ignored: no username change, no self-promotion to admin, no counters', async () => {
    const me = await world.user();
    const other = await world.user();
    for (const body of [
      { role: 'admin' },
      { username: 'hijacked_name' },
      { id: other.id },
      { reputation: 1000, community_badge: true, deleted: true },
      { is_active: false },
      { connections_count: 50, requests_sent_count: 7, requests_received_count: 9 },
      { email: 'stolen@example.com', password_hash: 'x', ext_id: 'x' },
    ]) {
      const response = await patch(me.token, me.id, { ...body, bio: 'still me' });
      assert.equal(response.status, 200, `${JSON.stringify(body)}: ${response.text}`);
      assert.equal(response.body.id, me.id);
      assert.equal(response.body.bio, 'still me');
    }
    const shown = await world.get('/api/v2/user/me/', me.token);
    assert.equal(shown.status, 200, 'still active');
    assert.equal(shown.body.username, me.username);
    assert.equal(shown.body.id, me.id);
    assert.equal(shown.body.role, null);
    assert.equal(shown.body.reputation, 0);
    assert.equal(shown.body.community_badge, false);
    assert.equal(shown.body.deleted, false);
    assert.equal(shown.body.email, null);
    assert.equal(shown.body.ext_id, null);
    assert.equal(shown.body.connections_counter, 0);
    assert.equal(shown.body.connection_requests_sent_counter, 0);
    const promoted = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: me.token,
      body: { application_name: 'pwned' },
    });
    assert.equal(promoted.status, 403);
    const row = await world.db.selectFrom('users').selectAll().where('id', '=', me.id).executeTakeFirstOrThrow();
    assert.equal(row.role, null);
    assert.equal(row.password_hash, null);
    assert.equal(row.is_active, true);
  });

  test('an admin may change another profile; a member may not (403)', async () => {
    const target = await world.user();
    const other = await world.user();
    const byAdmin = await patch(admin, target.id, { real_name: 'Set By Admin' });
    assert.equal(byAdmin.status, 200, byAdmin.text);
    assert.equal(byAdmin.body.real_name, 'Set By Admin');
    const byOther = await patch(other.token, target.id, { real_name: 'Hacked' });
    assert.equal(byOther.status, 403, byOther.text);
    assert.equal(byOther.body.code, 'permission_denied');
    assert.equal((await world.get(`/api/v2/user/${target.id}/`, null)).body.real_name, 'Set By Admin');
  });

  for (const [label, body, field] of [
    ['an unknown gender', { gender: 'Other' }, 'gender'],
    ['a description over 50 characters', { description: 'x'.repeat(51) }, 'description'],
    ['a location over 100 characters', { location: 'x'.repeat(101) }, 'location'],
    ['a real name over 255 characters', { real_name: 'x'.repeat(256) }, 'real_name'],
    ['a website that is not a URL', { website: 'not a url' }, 'website'],
    ['a date of birth that is not a date', { date_of_birth: '17/05/1990' }, 'date_of_birth'],
  ] as const) {
    test(`${label}: 400`, async () => {
      const me = await world.user();
      const response = await patch(me.token, me.id, body);
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.code, 'invalid');
      assert.equal(typeof response.body.detail, 'string');
      assert.ok(
        response.body.errors && Object.keys(response.body.errors).some((k) => k.startsWith(field)),
        response.text,
      );
    });
  }

  test('an unknown user: 404 for an admin; anonymous: 401', async () => {
    const response = await patch(admin, 2_000_000_000, { bio: 'x' });
    assert.equal(response.status, 404, response.text);
    const anonymous = await world.request('PATCH', '/api/v2/user/1/', { body: { bio: 'x' } });
    assert.equal(anonymous.status, 401);
  });

  test('malformed JSON: 400 parse_error', async () => {
    const me = await world.user();
    const response = await world.request('PATCH', `/api/v2/user/${me.id}/`, {
      token: me.token,
      headers: { 'content-type': 'application/json' },
      raw: '{"bio": "x"',
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'parse_error');
  });
});

describe('GET /api/v2/user/{id}/counters/', () => {
  test('unsupported features are null, request counters only for self and admins', async () => {
    const me = await world.user();
    const other = await world.user();
    await world.act(me.token, other.id, 'request');
    const nulls = {
      discussions: null,
      posts: null,
      statuses: null,
      polls: null,
      followings: null,
      followers: null,
      categories: null,
    };
    assert.deepEqual((await world.get(`/api/v2/user/${me.id}/counters/`, me.token)).body, {
      ...nulls,
      connections: 0,
      connection_requests_sent: 1,
      connection_requests_received: 0,
    });
    assert.deepEqual((await world.get(`/api/v2/user/${other.id}/counters/`, admin)).body, {
      ...nulls,
      connections: 0,
      connection_requests_sent: 0,
      connection_requests_received: 1,
    });
    assert.deepEqual((await world.get(`/api/v2/user/${other.id}/counters/`, me.token)).body, {
      ...nulls,
      connections: 0,
    });
    assert.deepEqual((await world.get(`/api/v2/user/${other.id}/counters/`, null)).body, { ...nulls, connections: 0 });
  });
});
