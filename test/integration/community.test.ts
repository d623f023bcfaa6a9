import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { JWT_SECRET, World } from '../helpers/world.js';

// What SelfCommunity's react-core providers read at start, beyond the connections contract.

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

describe('GET /api/v2/feature/', () => {
  test('lists the features kith offers, to anyone', async () => {
    const response = await world.get('/api/v2/feature/');
    assert.equal(response.status, 200);
    assert.equal(response.body.count, response.body.results.length);
    assert.deepEqual(
      response.body.results.find((f: { name: string }) => f.name === 'api_v2'),
      { name: 'api_v2', enabled: true },
    );
    // Webhooks have their API (GET /api/v2/webhook/endpoint/ and the rest), so the feature is on.
    assert.deepEqual(
      response.body.results.find((f: { name: string }) => f.name === 'webhook'),
      { name: 'webhook', enabled: true },
    );
    for (const feature of response.body.results) assert.deepEqual(Object.keys(feature).sort(), ['enabled', 'name']);
  });
});

describe('/api/v2/user/{id}/settings/', () => {
  const defaults = { show_toast_notifications: 1, toast_notifications_emit_sound: 1 };

  test('needs a token', async () => {
    const me = await world.user();
    assert.equal((await world.get(`/api/v2/user/${me.id}/settings/`)).status, 401);
  });

  test("a member reads their own settings, at their defaults until changed; not another member's", async () => {
    const me = await world.user();
    const other = await world.user();
    const mine = await world.get(`/api/v2/user/${me.id}/settings/`, me.token);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body, defaults);
    const theirs = await world.get(`/api/v2/user/${other.id}/settings/`, me.token);
    assert.equal(theirs.status, 403);
    assert.equal(theirs.body.code, 'permission_denied');
  });

  test('an admin reads anyone’s; an unknown user is a 404', async () => {
    const member = await world.user();
    const admin = await world.adminToken();
    assert.deepEqual((await world.get(`/api/v2/user/${member.id}/settings/`, admin)).body, defaults);
    assert.equal((await world.get('/api/v2/user/2147483647/settings/', admin)).status, 404);
  });

  test('PATCH changes the named settings and keeps them', async () => {
    const me = await world.user();
    const path = `/api/v2/user/${me.id}/settings/`;
    const patched = await world.request('PATCH', path, { token: me.token, body: { show_toast_notifications: 0 } });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body, { ...defaults, show_toast_notifications: 0 });
    // SelfCommunity's settings form sends radio values as strings.
    const again = await world.request('PATCH', path, {
      token: me.token,
      body: { toast_notifications_emit_sound: '0' },
    });
    assert.deepEqual(again.body, { show_toast_notifications: 0, toast_notifications_emit_sound: 0 });
    assert.deepEqual((await world.get(path, me.token)).body, again.body);
  });

  test('PATCH refuses unknown settings and bad values, all or nothing', async () => {
    const me = await world.user();
    const path = `/api/v2/user/${me.id}/settings/`;
    const unknown = await world.request('PATCH', path, {
      token: me.token,
      body: { show_toast_notifications: 0, qa_frequency: 1 },
    });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.errors, { qa_frequency: ['Unknown setting.'] });
    const bad = await world.request('PATCH', path, { token: me.token, body: { show_toast_notifications: 7 } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors, { show_toast_notifications: ['Must be 0 or 1.'] });
    assert.deepEqual((await world.get(path, me.token)).body, defaults);
    const other = await world.user();
    const foreign = await world.request('PATCH', `/api/v2/user/${other.id}/settings/`, {
      token: me.token,
      body: { show_toast_notifications: 0 },
    });
    assert.equal(foreign.status, 403);
  });
});

describe('the first page of GET /api/v2/dynamic_preference/', () => {
  test('holds every configurations.* preference the provider reads at start', async () => {
    const response = await world.get('/api/v2/dynamic_preference/');
    assert.equal(response.status, 200);
    const page = new Map<string, unknown>(
      response.body.results.map((p: { section: string; name: string; value: unknown }) => [
        `${p.section}.${p.name}`,
        p.value,
      ]),
    );
    const templates = [
      'post',
      'discussion',
      'status',
      'comment',
      'category',
      'categories_list',
      'profile',
      'profile_settings',
      'notifications',
      'private_message',
      'incubator',
      'live_stream',
    ];
    for (const name of templates) {
      const value = page.get(`configurations.url_template_${name}`);
      assert.equal(typeof value, 'string', `configurations.url_template_${name} on the first page`);
      assert.match(value as string, /^\//);
    }
    assert.equal(page.get('configurations.connection_enabled'), true);
    assert.equal(page.get('configurations.follow_enabled'), false);
    assert.equal(page.get('configurations.content_availability'), true);
  });

  test('holds what the profile widgets read for every member: a default cover and the metadata definition', async () => {
    const response = await world.get('/api/v2/dynamic_preference/');
    const page = new Map<string, unknown>(
      response.body.results.map((p: { section: string; name: string; value: unknown }) => [
        `${p.section}.${p.name}`,
        p.value,
      ]),
    );
    // UserProfileHeader writes the cover into CSS `url('…')` on the page's own origin: an absolute image URL
    // (here a data URL) with no quote to end the CSS string.
    const cover = page.get('images.user_default_cover');
    assert.equal(typeof cover, 'string');
    assert.match(cover as string, /^data:image\/svg\+xml,/);
    assert.doesNotMatch(cover as string, /['"\s\\]/);
    assert.match(decodeURIComponent((cover as string).slice('data:image/svg+xml,'.length)), /^<svg [\s\S]*<\/svg>$/);
    // UserInfo JSON.parses it and adds one field per key: kith has no custom fields.
    const definition = page.get('configurations.user_metadata_definition');
    assert.equal(typeof definition, 'string');
    assert.deepEqual(JSON.parse(definition as string), {});
  });
});

describe('CORS', () => {
  const origin = 'https://community.example.org';
  let cors: FastifyInstance;
  before(async () => {
    cors = await buildApp({
      config: {
        jwtSecret: JWT_SECRET,
        accessTokenTtl: 3600,
        refreshTokenTtl: 86_400,
        trustProxy: false,
        corsOrigins: [origin],
      },
      db: world.db,
    });
  });
  after(() => cors.close());

  const preflight = (app: FastifyInstance, from: string, url = '/api/v2/user/connection/requests/') =>
    app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin: from,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });

  test('is off by default', async () => {
    const response = await preflight(world.app, origin);
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    const get = await world.app.inject({ method: 'GET', url: '/api/v2/feature/', headers: { origin } });
    assert.equal(get.headers['access-control-allow-origin'], undefined);
  });

  test('answers the preflight of a listed origin, without credentials', async () => {
    const response = await preflight(cors, origin);
    assert.equal(response.statusCode, 204);
    assert.equal(response.headers['access-control-allow-origin'], origin);
    assert.match(String(response.headers['access-control-allow-methods']), /POST/);
    assert.match(String(response.headers['access-control-allow-headers']), /authorization/i);
    assert.equal(response.headers['access-control-allow-credentials'], undefined);
    assert.match(String(response.headers.vary), /origin/i);
  });

  test('gives an unlisted origin no CORS headers', async () => {
    const response = await preflight(cors, 'https://evil.example.net');
    assert.equal(response.headers['access-control-allow-origin'], undefined);
  });

  test('puts the headers on errors too, so a browser can read a 401', async () => {
    const response = await cors.inject({ method: 'GET', url: '/api/v2/user/me/', headers: { origin } });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['access-control-allow-origin'], origin);
  });

  test('keeps unknown paths 404 and other methods 405', async () => {
    const unknown = await cors.inject({ method: 'GET', url: '/api/v2/nothing-here/', headers: { origin } });
    assert.equal(unknown.statusCode, 404);
    const wrong = await cors.inject({ method: 'DELETE', url: '/api/v2/feature/', headers: { origin } });
    assert.equal(wrong.statusCode, 405);
    assert.doesNotMatch(String(wrong.headers.allow), /OPTIONS/);
  });
});

describe('CORS_ORIGINS', () => {
  const load = (value: string) => loadConfig({ JWT_SECRET: 'x'.repeat(40), CORS_ORIGINS: value });

  test('is a list of origins, or *; empty by default', () => {
    assert.deepEqual(loadConfig({ JWT_SECRET: 'x'.repeat(40) }).corsOrigins, []);
    assert.deepEqual(load('https://a.example.org, http://127.0.0.1:5173').corsOrigins, [
      'https://a.example.org',
      'http://127.0.0.1:5173',
    ]);
    assert.deepEqual(load('https://a.example.org/').corsOrigins, ['https://a.example.org']);
    assert.deepEqual(load('*').corsOrigins, ['*']);
  });

  test('refuses what is not an origin', () => {
    for (const bad of [
      'a.example.org',
      'https://a.example.org/path',
      'ftp://a.example.org',
      '*,https://a.example.org',
    ]) {
      assert.throws(() => load(bad), ConfigError, bad);
    }
  });
});
