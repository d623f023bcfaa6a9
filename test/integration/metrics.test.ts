import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { SocketClient } from '../helpers/socket.js';
import { JWT_SECRET, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every sample belongs to a family announced
 * by `# TYPE`, its labels are `name="value"` pairs and its value a float (NaN and ±Inf included).
 */
function parse(text: string) {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      assert.ok(!types.has(type[1]!), `one TYPE line per family: ${line}`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    const [, name, labelText = '', valueText] = sample;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    // Prometheus reads floats as Go's ParseFloat does: prom-client writes NaN as "Nan".
    assert.ok(/^nan$/i.test(valueText!) || !Number.isNaN(value), `a number: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g))
      labels[pair[1]!] = pair[2]!;
    assert.equal(
      labelText.replace(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g, ''),
      '',
      `well-formed labels: ${line}`,
    );
    const family = [...types.keys()].find(
      (f) => name === f || (/^_(bucket|sum|count|total|created)$/.test(name!.slice(f.length)) && name!.startsWith(f)),
    );
    assert.ok(family, `${name} follows its # TYPE line`);
    samples.push({ name: name!, labels, value });
  }
  return { types, samples };
}

async function scrape(base = world.baseUrl, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/metrics`, { headers });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await response.text());
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}) {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  assert.ok(found.length <= 1, `one sample of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

describe('GET /metrics (open outside production without a token)', () => {
  test('speaks the text format with every figure announced', async () => {
    const { types, samples } = await scrape();
    for (const [name, type] of [
      ['kith_http_request_duration_seconds', 'histogram'],
      ['kith_webhook_deliveries_pending', 'gauge'],
      ['kith_webhook_deliveries_due', 'gauge'],
      ['kith_webhook_oldest_pending_delivery_age_seconds', 'gauge'],
      ['kith_realtime_open_sockets', 'gauge'],
      ['kith_listen_reconnects_total', 'counter'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['process_cpu_seconds_total', 'counter'],
    ]) {
      assert.equal(types.get(name!), type, name);
    }
    assert.equal(sampleValue(samples, 'kith_listen_reconnects_total', { channel: 'kith_notifications' }), 0);
    assert.ok((sampleValue(samples, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0);
    // The embedded database has no pool: no pool figures rather than made-up ones.
    assert.equal(types.has('kith_db_pool_connections'), world.handle.pool !== undefined);
  });

  test('counts requests by route pattern, method and status class, never by URL', async () => {
    const [a, b] = [await world.user(), await world.user()];
    const route = { method: 'GET', route: '/api/v2/user/:id/', status: '2xx' };
    const missing = { method: 'GET', route: 'unmatched', status: '4xx' };
    const before = (await scrape()).samples;
    for (const id of [a.id, b.id, a.id]) assert.equal((await world.get(`/api/v2/user/${id}/`)).status, 200);
    assert.equal((await world.get(`/no/such/path/${a.id}`)).status, 404);
    const { samples } = await scrape();

    const count = (s: Sample[], labels: Record<string, string>) =>
      sampleValue(s, 'kith_http_request_duration_seconds_count', labels) ?? 0;
    assert.equal(count(samples, route) - count(before, route), 3);
    assert.equal(count(samples, missing) - count(before, missing), 1);
    const inf = sampleValue(samples, 'kith_http_request_duration_seconds_bucket', { ...route, le: '+Inf' });
    assert.equal(inf, count(samples, route), 'the +Inf bucket holds every request');
    for (const sample of samples) {
      for (const id of [a.id, b.id]) {
        assert.ok(!String(sample.labels.route).includes(`/${id}`), `a raw URL in ${JSON.stringify(sample)}`);
      }
    }
  });

  test('the webhook queue figures follow the pending deliveries', async () => {
    const admin = await world.adminToken();
    const endpoint = await world.post('/api/v2/webhook/endpoint/', admin, {
      target: 'http://127.0.0.1:9/metrics-test',
      events: [{ type: 'connection_request.created' }],
    });
    assert.equal(endpoint.status, 201, endpoint.text);
    const figures = async () => {
      const { samples } = await scrape();
      return {
        pending: sampleValue(samples, 'kith_webhook_deliveries_pending'),
        due: sampleValue(samples, 'kith_webhook_deliveries_due'),
        age: sampleValue(samples, 'kith_webhook_oldest_pending_delivery_age_seconds') ?? Number.NaN,
      };
    };
    // No worker runs in the tests' world, so deliveries stay pending.
    const empty = await figures();
    assert.deepEqual(empty, { pending: 0, due: 0, age: 0 });

    const [a, b, c] = [await world.user(), await world.user(), await world.user()];
    assert.equal((await world.act(a.token, b.id, 'request')).status, 200);
    assert.equal((await world.act(a.token, c.id, 'request')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the one-second reuse of a queue read
    const queued = await figures();
    assert.equal(queued.pending, 2);
    assert.equal(queued.due, 2);
    assert.ok(queued.age > 0 && queued.age < 60, `age ${queued.age}`);

    // Deliveries held for a paused endpoint wait on purpose: they are not a backlog.
    const paused = await world.request('PATCH', `/api/v2/webhook/endpoint/${endpoint.body.id}/`, {
      token: admin,
      body: { is_active: false },
    });
    assert.equal(paused.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(await figures(), { pending: 0, due: 0, age: 0 });
  });

  test('the realtime gauge counts an open socket', async () => {
    const open = async () => sampleValue((await scrape()).samples, 'kith_realtime_open_sockets');
    const member = await world.user();
    const before = await open();
    const socket = await SocketClient.open(world.baseUrl, member.token);
    try {
      assert.equal(await open(), (before ?? Number.NaN) + 1);
    } finally {
      socket.close();
    }
    const deadline = Date.now() + 5000;
    while ((await open()) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await open(), before, 'a closed socket leaves the gauge');
  });

  test('is not in the OpenAPI document', async () => {
    const doc = await world.get('/api/v2/openapi.json');
    assert.equal(doc.status, 200);
    assert.ok(!Object.keys(doc.body.paths).includes('/metrics'));
  });
});

describe('who may scrape', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  const apps: FastifyInstance[] = [];
  after(async () => {
    for (const app of apps) await app.close();
  });

  /** Another app over the same database (one registry each: several apps live in this process). */
  async function start(config: { metricsToken?: string; production?: boolean }) {
    const app = await buildApp({
      config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false, ...config },
      db: world.db,
    });
    apps.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  test('with a token: 401 without it or with a wrong one, 200 with it', async () => {
    const base = await start({ metricsToken: TOKEN });
    const none = await fetch(`${base}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(((await none.json()) as { code: string }).code, 'not_authenticated');
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer', TOKEN, `Basic ${TOKEN}`]) {
      const wrong = await fetch(`${base}/metrics`, { headers: { authorization: header } });
      assert.equal(wrong.status, 401, header);
      assert.equal(((await wrong.json()) as { code: string }).code, 'authentication_failed', header);
    }
    // A member's valid JWT is not the metrics token.
    const member = await world.user();
    assert.equal(
      (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${member.token}` } })).status,
      401,
    );
    const { types } = await scrape(base, { authorization: `Bearer ${TOKEN}` });
    assert.equal(types.get('kith_http_request_duration_seconds'), 'histogram');
  });

  test('production without a token: /metrics is off (404)', async () => {
    const base = await start({ production: true });
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { code: string }).code, 'not_found');
  });

  test('production with a token: served to the token only', async () => {
    const base = await start({ production: true, metricsToken: TOKEN });
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    await scrape(base, { authorization: `Bearer ${TOKEN}` });
  });
});
