import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, World } from '../helpers/world.js';

const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

let world: World;
let member: Awaited<ReturnType<World['user']>>;
before(async () => {
  world = await World.start();
  member = await world.user();
});
after(() => world.close());

function assertError(response: ApiResponse, status: number, code?: string) {
  assert.equal(response.status, status, response.text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof response.body, 'object', response.text);
  assert.equal(typeof response.body.detail, 'string');
  assert.ok(response.body.detail.length > 0);
  assert.equal(typeof response.body.code, 'string');
  if (code) assert.equal(response.body.code, code);
}

describe('routing', () => {
  for (const path of ['/nope', '/api/v2/nothing/', '/api/v2/user/1/nothing/', '/api/v3/user/me/']) {
    test(`GET ${path}: 404 JSON`, async () => {
      assertError(await world.get(path, member.token), 404, 'not_found');
    });
  }

  const wrongMethods: Array<[string, string, string[]]> = [
    ['DELETE', '/api/v2/user/me/', ['GET']],
    ['POST', '/api/v2/user/me/', ['GET']],
    ['GET', '/api/v2/user/2/connection/request/', ['POST']],
    ['DELETE', '/api/v2/user/2/connection/remove/', ['POST']],
    ['GET', '/api/v2/user/connection/statuses/', ['POST']],
    ['PUT', '/api/v2/dynamic_preference/', ['GET', 'PATCH']],
    ['PUT', '/api/v2/user/2/', ['GET', 'PATCH', 'DELETE']],
    ['POST', '/api/v2/user/connection/requests/', ['GET']],
    ['GET', '/oauth/token/', ['POST']],
  ];
  for (const [method, path, allowed] of wrongMethods) {
    test(`${method} ${path}: 405 with Allow`, async () => {
      const response = await world.request(method, path, { token: member.token });
      assertError(response, 405, 'method_not_allowed');
      const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim());
      for (const m of allowed) assert.ok(allow.includes(m), `Allow: ${allow} has ${m}`);
      assert.ok(!allow.includes(method), `Allow: ${allow} lacks ${method}`);
    });
  }

  test('/api/v2/user/connection/ is not a path: "connection" is not an id', async () => {
    assertError(await world.get('/api/v2/user/connection/', member.token), 404, 'not_found');
  });

  test('paths work with and without the trailing slash', async () => {
    for (const path of ['/api/v2/user/me', '/api/v2/user/me/']) {
      const response = await world.get(path, member.token);
      assert.equal(response.status, 200, `${path}: ${response.text}`);
      assert.equal(response.body.id, member.id);
    }
  });
});

describe('bad input is a 4xx, never a 500', () => {
  const ID_PATHS = (id: string): Array<[string, string]> => [
    ['GET', `/api/v2/user/${id}/`],
    ['GET', `/api/v2/user/${id}/counters/`],
    ['GET', `/api/v2/user/${id}/connections/`],
    ['GET', `/api/v2/user/${id}/connection_status/`],
    ['GET', `/api/v2/user/${id}/is_connection/`],
    ['POST', `/api/v2/user/${id}/connection/request/`],
    ['POST', `/api/v2/user/${id}/connection/accept/`],
    ['POST', `/api/v2/user/${id}/connection_requests/mark_seen/`],
    ['PATCH', `/api/v2/user/${id}/`],
    ['GET', `/api/v2/dynamic_preference/${id}/`],
  ];
  const request = (method: string, path: string) =>
    world.request(method, path, { token: member.token, ...(method === 'PATCH' ? { body: { bio: 'x' } } : {}) });

  // Digits that cannot name a row: the id's schema answers.
  for (const id of ['0', '00', '99999999999', '2147483648']) {
    test(`id ${JSON.stringify(id)}: 400`, async () => {
      for (const [method, path] of ID_PATHS(id)) {
        const response = await request(method, path);
        assertError(response, 400);
        assert.equal(response.body.code, 'invalid', `${method} ${path}`);
      }
    });
  }

  // Not written as an id at all: not a path kith has.
  for (const id of ['abc', '-1', '1.5', '1e2', '0x10', '%20', 'null', '12abc', '+5']) {
    test(`id ${JSON.stringify(id)}: 404`, async () => {
      for (const [method, path] of ID_PATHS(id)) {
        const response = await request(method, path);
        assertError(response, 404);
        assert.equal(response.body.code, 'not_found', `${method} ${path}`);
      }
    });
  }

  test('words where an id goes are unknown paths: 404 whatever the method', async () => {
    for (const word of ['lookup', 'nearby', 'avatar', 'friends', 'me1']) {
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE', 'PUT']) {
        const response = await request(method, `/api/v2/user/${word}/`);
        assertError(response, 404);
        assert.equal(response.body.code, 'not_found', `${method} /api/v2/user/${word}/`);
        assert.equal(response.headers.get('allow'), null);
      }
    }
    // A known path with another method is still a 405.
    const wrong = await request('PUT', `/api/v2/user/${member.id}/`);
    assertError(wrong, 405);
    assert.equal(wrong.headers.get('allow'), 'GET, HEAD, PATCH, DELETE');
  });

  test('the largest valid id that names nobody: 404', async () => {
    assertError(await world.get('/api/v2/user/2147483647/', member.token), 404, 'not_found');
    assertError(await world.act(member.token, 2_147_483_647, 'request'), 404, 'not_found');
  });

  const MALFORMED = [
    '{',
    '{"users": [1',
    '{"users": [1,]}',
    "{'users': [1]}",
    'users=1',
    'null',
    '[1, 2]',
    '"text"',
    '\u0000',
  ];
  for (const raw of MALFORMED) {
    test(`malformed JSON ${JSON.stringify(raw)} to statuses: 400`, async () => {
      const response = await world.request('POST', '/api/v2/user/connection/statuses/', {
        token: member.token,
        headers: { 'content-type': 'application/json' },
        raw,
      });
      assertError(response, 400);
    });
  }

  test('syntactically broken JSON is a parse_error on every JSON endpoint', async () => {
    const targets: Array<[string, string]> = [
      ['POST', '/api/v2/user/connection/statuses/'],
      ['PATCH', `/api/v2/user/${member.id}/`],
      ['POST', '/oauth/token/'],
      ['PATCH', '/api/v2/dynamic_preference/'],
      ['POST', `/api/v2/user/${member.id + 1}/connection/request/`],
    ];
    for (const [method, path] of targets) {
      const response = await world.request(method, path, {
        token: path.includes('dynamic_preference') ? await world.adminToken() : member.token,
        headers: { 'content-type': 'application/json' },
        raw: '{"broken": ',
      });
      assertError(response, 400, 'parse_error');
    }
  });

  test('a huge body: 413', async () => {
    const users = Array.from({ length: 300_000 }, (_, i) => i + 1);
    const response = await world.post('/api/v2/user/connection/statuses/', member.token, { users });
    assertError(response, 413, 'payload_too_large');
    const raw = await world.request('PATCH', `/api/v2/user/${member.id}/`, {
      token: member.token,
      headers: { 'content-type': 'application/json' },
      raw: JSON.stringify({ bio: 'x'.repeat(2 * 1024 * 1024) }),
    });
    assertError(raw, 413, 'payload_too_large');
    // The limit is 64 KiB: just over it is refused, the largest honest body (a 10,000-character bio,
    // every character escaped) is not.
    const over = await world.request('PATCH', `/api/v2/user/${member.id}/`, {
      token: member.token,
      headers: { 'content-type': 'application/json' },
      raw: JSON.stringify({ description: 'x'.repeat(65 * 1024) }),
    });
    assertError(over, 413, 'payload_too_large');
    const escaped = await world.request('PATCH', `/api/v2/user/${member.id}/`, {
      token: member.token,
      headers: { 'content-type': 'application/json' },
      raw: JSON.stringify({ bio: '\u2028'.repeat(10_000) }).replaceAll('\u2028', '\\u2028'),
    });
    assert.equal(escaped.status, 200, escaped.text);
  });

  test('an unsupported content type: 415', async () => {
    const response = await world.request('POST', '/api/v2/user/connection/statuses/', {
      token: member.token,
      headers: { 'content-type': 'text/xml' },
      raw: '<users><id>1</id></users>',
    });
    assertError(response, 415, 'unsupported_media_type');
  });

  test('a grab bag of odd requests: never a 500', async () => {
    const admin = await world.adminToken();
    const odd: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: [1.5] } }],
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: [-1] } }],
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: [2_147_483_648] } }],
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: null } }],
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: [[1]] } }],
      ['POST', '/api/v2/user/connection/statuses/', { body: { users: [{ id: 1 }] } }],
      [
        'POST',
        '/api/v2/user/connection/statuses/',
        { raw: 'users=1&users=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      ],
      ['PATCH', `/api/v2/user/${member.id}/`, { body: [] }],
      ['PATCH', `/api/v2/user/${member.id}/`, { body: 'bio' }],
      ['PATCH', `/api/v2/user/${member.id}/`, { body: { bio: '\u0000' } }],
      ['PATCH', `/api/v2/user/${member.id}/`, { body: { date_of_birth: '2020-02-30' } }],
      ['PATCH', `/api/v2/user/${member.id}/`, { body: { date_of_birth: '99999-01-01' } }],
      ['PATCH', '/api/v2/dynamic_preference/', { body: [], token: admin }],
      ['PATCH', '/api/v2/dynamic_preference/', { body: { application_name: 'x'.repeat(20_000) }, token: admin }],
      ['PATCH', '/api/v2/dynamic_preference/', { body: { application_name: null }, token: admin }],
      ['POST', '/oauth/token/', { body: { grant_type: 'password', username: 'x'.repeat(300), password: 'y' } }],
      ['POST', '/oauth/token/', { body: { grant_type: 'password', username: 'admin', password: 'y'.repeat(5000) } }],
      ['POST', '/oauth/token/', { body: { grant_type: 'password', username: 'a\u0000b', password: 'y' } }],
      ['POST', '/oauth/token/', { body: null }],
      ['POST', '/oauth/token/', {}],
      ['GET', '/api/v2/user/?search=%00', {}],
      ['GET', '/api/v2/user/?search=%E0%A4%A', {}],
      ['GET', `/api/v2/user/?search=${'x'.repeat(300)}`, {}],
      ['GET', '/api/v2/user/?ordering=password_hash', {}],
      ['GET', '/api/v2/user/?limit=5&limit=6', {}],
      ['GET', '/api/v2/user/connection/requests/?rejected=1', {}],
      ['GET', '/api/v2/user/connection/requests/?rejected[]=true', {}],
      ['GET', `/api/v2/user/${member.id}/connections/?mutual=1&mutual=0`, {}],
      ['GET', `/api/v2/dynamic_preference/?keys=${','.repeat(500)}`, {}],
      ['GET', '/api/v2/user/%E0%A4%A/', {}],
      ['GET', '/api/v2/user/../../etc/passwd', {}],
      ['POST', '/api/v2/sso/signup/', { body: { username: 'a\u0000b' }, token: admin }],
      [
        'POST',
        '/api/v2/sso/signup/',
        { body: { username: 'ok_name_x', email: 'a@b.c', ext_id: 'x'.repeat(300) }, token: admin },
      ],
      ['POST', '/api/v2/sso/signup/', { body: { username: 'ok_name_y', tags: ['x'] }, token: admin }],
    ];
    for (const [method, path, options] of odd) {
      const response = await world.request(method, path, { token: member.token, ...options });
      assert.ok(
        response.status >= 200 && response.status < 500,
        `${method} ${path} ${JSON.stringify(options).slice(0, 80)}: ${response.status} ${response.text}`,
      );
      if (response.status >= 400) {
        assert.equal(typeof response.body?.detail, 'string', `${method} ${path}: ${response.status} ${response.text}`);
        assertError(response, response.status);
      }
    }
  });
});

describe('operations and documentation', () => {
  test('/healthz and /readyz', async () => {
    const health = await world.get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', version: packageVersion });
    const ready = await world.get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ok' });
  });

  test('/api/v2/openapi.json is an OpenAPI 3.1 document listing the friendship paths', async () => {
    const response = await world.get('/api/v2/openapi.json');
    assert.equal(response.status, 200);
    const doc = response.body;
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(doc.info.version, packageVersion);
    assert.equal(typeof doc.paths, 'object');

    const expected: Array<[string, string]> = [
      ['post', '/api/v2/user/{id}/connection/request/'],
      ['post', '/api/v2/user/{id}/connection/accept/'],
      ['post', '/api/v2/user/{id}/connection/reject/'],
      ['post', '/api/v2/user/{id}/connection/cancel_request/'],
      ['post', '/api/v2/user/{id}/connection/cancel_reject/'],
      ['post', '/api/v2/user/{id}/connection/remove/'],
      ['post', '/api/v2/user/{id}/connection_requests/mark_seen/'],
      ['get', '/api/v2/user/connection/requests/'],
      ['get', '/api/v2/user/connection_requests/'],
      ['get', '/api/v2/user/connection/requests_sent/'],
      ['get', '/api/v2/user/{id}/connections/'],
      ['get', '/api/v2/user/{id}/is_connection/'],
      ['get', '/api/v2/user/{id}/connection_status/'],
      ['post', '/api/v2/user/connection/statuses/'],
      ['get', '/api/v2/user/me/'],
      ['get', '/api/v2/user/'],
      ['get', '/api/v2/user/{id}/'],
      ['patch', '/api/v2/user/{id}/'],
      ['get', '/api/v2/user/{id}/counters/'],
      ['post', '/api/v2/sso/signup/'],
      ['post', '/api/v2/account/create/'],
      ['post', '/oauth/token/'],
      ['get', '/api/v2/dynamic_preference/'],
      ['patch', '/api/v2/dynamic_preference/'],
      ['get', '/api/v2/dynamic_preference/{id}/'],
      ['get', '/api/v2/dynamic_preference/search/'],
    ];
    for (const [method, path] of expected) {
      const operation = doc.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
      assert.ok(operation.responses && Object.keys(operation.responses).length > 0, `${path} has responses`);
      if (path.includes('{id}')) {
        const params = [...(operation.parameters ?? []), ...(doc.paths[path].parameters ?? [])];
        assert.ok(
          params.some((p: any) => p.name === 'id' && p.in === 'path' && p.required === true),
          `${path} documents its id`,
        );
      }
    }
    const received = doc.paths['/api/v2/user/connection/requests/'].get;
    const queryNames = (received.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name);
    for (const name of ['limit', 'offset', 'rejected']) assert.ok(queryNames.includes(name), `received has ${name}`);
    assert.ok(received.responses['200'], 'received documents its 200');
    const statuses = doc.paths['/api/v2/user/connection/statuses/'].post;
    assert.ok(statuses.requestBody, 'statuses documents its body');

    // Every $ref points at something that exists in the document.
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '$ref' && typeof v === 'string') refs.push(v);
          else walk(v);
        }
      }
    };
    walk(doc);
    assert.ok(refs.length > 0);
    for (const ref of new Set(refs)) {
      assert.ok(ref.startsWith('#/'), `local ref ${ref}`);
      let target: any = doc;
      for (const part of ref.slice(2).split('/')) target = target?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
      assert.ok(target, `${ref} resolves`);
    }
    for (const name of ['User', 'ConnectionRequest']) {
      assert.ok(doc.components?.schemas?.[name], `component ${name}`);
    }
    const user = doc.components.schemas.User;
    for (const field of ['id', 'username', 'connection_status', 'date_joined'])
      assert.ok(user.properties[field], field);
  });

  test('/docs answers with the Swagger UI', async () => {
    const response = await fetch(`${world.baseUrl}/docs`, { redirect: 'follow' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await response.text(), /swagger/i);
  });
});
