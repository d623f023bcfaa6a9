import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { queryCounter } from '../../src/db/database.js';
import { JWT_SECRET, ok, TEST_WEBHOOKS, World } from '../helpers/world.js';

// The tag cache (src/http/tag-cache.ts): a re-read whose tag a process remembers answers 304 without
// a statement, and never once a change has committed — in this process or in another one.

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

/** Statements issued on the pool while serving each request (see query-count.test.ts). */
const scopes: Array<{ count: number }> = [];

interface Answer {
  status: number;
  tag: string | undefined;
  text: string;
}

/**
 * GET over plain HTTP with a Host header of our choosing: a tag covers the origin, so two servers
 * behind one name (as behind a load balancer) give the same tags.
 */
function get(baseUrl: string, path: string, token: string, tag?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'kith.test', authorization: `Bearer ${token}` };
    if (tag) headers['if-none-match'] = tag;
    const request = http.get(new URL(path, baseUrl), { headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () => {
        const etag = response.headers.etag;
        resolve({ status: response.statusCode ?? 0, tag: typeof etag === 'string' ? etag : undefined, text });
      });
    });
    request.on('error', reject);
  });
}

const received = '/api/v2/user/connection/requests/';

describe('one process', () => {
  before(() => {
    world.app.server.prependListener('request', () => {
      const scope = { count: 0 };
      scopes.push(scope);
      queryCounter.enterWith(scope);
    });
  });

  test('a remembered tag answers 304 without a statement; any change is seen on the next re-read', async () => {
    const me = await world.user();
    const sender = await world.user();
    const friend = await world.user();
    await ok(world.act(sender.token, me.id, 'request'));
    await ok(world.act(me.token, friend.id, 'request'));
    await ok(world.act(friend.token, me.id, 'accept'));
    const cache = world.app.tagCache;
    assert.ok(cache, 'the tests run with the tag cache');

    for (const [path, token] of [
      [received, me.token],
      [`/api/v2/user/${me.id}/connections/`, sender.token],
    ] as const) {
      const first = await get(world.baseUrl, path, token);
      assert.equal(first.status, 200, first.text);
      const hits: number = cache.counters.hits;
      const again = await get(world.baseUrl, path, token, first.tag);
      assert.equal(again.status, 304, `${path}: ${again.text}`);
      assert.equal(again.tag, first.tag);
      assert.equal(scopes.at(-1)?.count, 0, `${path}: a remembered tag reads nothing from the pool`);
      assert.equal(cache.counters.hits, hits + 1);
    }

    // Each change, then a re-read with the tag of the moment before: never 304.
    const changes: Array<[string, string, string, () => Promise<unknown>]> = [
      ['a new request', received, me.token, async () => ok(world.act((await world.user()).token, me.id, 'request'))],
      [
        "the sender's profile (their JSON on my page)",
        received,
        me.token,
        () => ok(world.request('PATCH', `/api/v2/user/${sender.id}/`, { token: sender.token, body: { bio: 'new' } })),
      ],
      [
        'the owner connects (their list and counter)',
        `/api/v2/user/${me.id}/connections/`,
        sender.token,
        async () => {
          await ok(world.act(me.token, sender.id, 'accept'));
        },
      ],
      [
        'a friend on the page changes profile',
        `/api/v2/user/${me.id}/connections/`,
        sender.token,
        () => ok(world.request('PATCH', `/api/v2/user/${friend.id}/`, { token: friend.token, body: { bio: 'x' } })),
      ],
      [
        'the community switches to follow mode (the route is for friendship mode)',
        `/api/v2/user/${me.id}/connections/`,
        sender.token,
        () => world.setPreferences({ follow_enabled: true }),
      ],
    ];
    for (const [label, path, token, change] of changes) {
      const before = await get(world.baseUrl, path, token);
      assert.equal(before.status, 200, `${label}: ${before.text}`);
      assert.equal((await get(world.baseUrl, path, token, before.tag)).status, 304, `${label}: remembered`);
      await change();
      const after = await get(world.baseUrl, path, token, before.tag);
      const now = await get(world.baseUrl, path, token);
      assert.notEqual(now.text, before.text, `${label}: the change changes the answer`);
      assert.equal(after.status, now.status, `${label}: a stale 304 (${after.text})`);
      assert.equal(after.text, now.text);
    }
    await world.setPreferences({ follow_enabled: false });

    // Operators see it work: /metrics counts the remembered answers.
    const metrics = await world.request('GET', '/metrics');
    const hits = /^kith_tag_cache_hits_total (\d+)$/m.exec(metrics.text);
    assert.equal(Number(hits?.[1]), cache.counters.hits, metrics.text.slice(0, 200));
    assert.ok(cache.counters.hits > 0);
    assert.match(metrics.text, /^kith_tag_cache_misses_total \d+$/m);
    assert.match(metrics.text, /^kith_tag_cache_entries \d+$/m);
  });

  test('a token issued before the member was withdrawn is refused, even with a remembered tag', async () => {
    const me = await world.user();
    const sender = await world.user();
    await ok(world.act(sender.token, me.id, 'request'));
    const first = await get(world.baseUrl, received, me.token);
    assert.equal((await get(world.baseUrl, received, me.token, first.tag)).status, 304);
    await ok(world.request('PATCH', `/api/v2/moderation/user/${me.id}/`, { token: admin, body: { status: 'b' } }));
    await ok(world.request('PATCH', `/api/v2/moderation/user/${me.id}/`, { token: admin, body: { status: 'a' } }));
    assert.equal((await get(world.baseUrl, received, me.token, first.tag)).status, 401);
  });
});

/**
 * A TCP relay to PostgreSQL whose answers can be held back: the LISTEN connection of a second
 * server goes through it, so the test decides when that server hears of a change.
 */
class Relay {
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  private upstreams: net.Socket[] = [];
  held = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      this.upstreams.push(upstream);
      if (this.held) upstream.pause();
      client.pipe(upstream);
      upstream.pipe(client);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
          this.sockets.delete(s);
        });
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** PostgreSQL's messages to the server wait (notifications included) until `release`. */
  hold() {
    this.held = true;
    for (const u of this.upstreams) u.pause();
  }

  release() {
    this.held = false;
    for (const u of this.upstreams) u.resume();
  }

  /** Cuts every connection through the relay. */
  cut() {
    for (const s of this.sockets) s.destroy();
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('two servers on one database, each with its own LISTEN connection (as two processes)', {
  skip: !process.env.DATABASE_URL && 'needs PostgreSQL (two servers, one database)',
}, () => {
  let relay: Relay;
  let other: FastifyInstance;
  let otherUrl: string;

  before(async () => {
    const handle = world.handle;
    const url = new URL(String(handle.clientConfig?.connectionString));
    relay = new Relay({ host: url.hostname, port: Number(url.port || 5432) });
    const relayed = new URL(url);
    relayed.hostname = '127.0.0.1';
    relayed.port = String(await relay.listen());
    other = await buildApp({
      config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false },
      db: handle.db,
      pool: handle.pool,
      webhooks: TEST_WEBHOOKS,
      tagCache: {
        handle: { ...handle, clientConfig: { ...handle.clientConfig, connectionString: relayed.toString() } },
        databaseUrl: relayed.toString(),
        entries: 1000,
      },
    });
    await other.listen({ port: 0, host: '127.0.0.1' });
    otherUrl = `http://127.0.0.1:${(other.server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    await other.close();
    await relay.close();
  });

  test('a change made through the other server is never behind a 304, even when this one hears of it late', async () => {
    const me = await world.user();
    const cache = other.tagCache;
    assert.ok(cache);
    for (let round = 0; round < 5; round++) {
      const sender = await world.user();
      const before = await get(otherUrl, received, me.token);
      assert.equal(before.status, 200);
      const hits: number = cache.counters.hits;
      assert.equal((await get(otherUrl, received, me.token, before.tag)).status, 304);
      assert.equal(cache.counters.hits, hits + 1, 'answered from the remembered tag');

      // This server hears of the change only once the relay lets PostgreSQL speak to it again.
      relay.hold();
      await ok(world.act(sender.token, me.id, 'request'));
      setTimeout(() => relay.release(), 200);
      const started = Date.now();
      const after = await get(otherUrl, received, me.token, before.tag);
      assert.equal(after.status, 200, `round ${round}: a stale 304 (${after.text})`);
      assert.ok(Date.now() - started >= 150, 'the re-read waited for the barrier');
      assert.ok(after.text.includes(`"id":${sender.id},`), 'the new request is on the page');
    }
  });

  test('without its LISTEN connection a server answers from the database, and remembers again once back', async () => {
    const me = await world.user();
    const sender = await world.user();
    await ok(world.act(sender.token, me.id, 'request'));
    const cache = other.tagCache;
    assert.ok(cache);
    const before = await get(otherUrl, received, me.token);
    assert.equal((await get(otherUrl, received, me.token, before.tag)).status, 304);

    relay.cut();
    // The relay's upstream is cut too: the process's connection fails and it forgets everything.
    for (let i = 0; i < 100 && cache.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cache.size, 0, 'forgotten when the feed went down');
    await ok(world.act(sender.token, me.id, 'cancel_request'));
    const meanwhile = await get(otherUrl, received, me.token, before.tag);
    assert.equal(meanwhile.status, 200, 'the change is seen through the database');

    // Back (the LISTEN connection reconnects within a few seconds): tags are remembered again.
    let hit = false;
    for (let i = 0; i < 100 && !hit; i++) {
      const fresh = await get(otherUrl, received, me.token);
      const hits: number = cache.counters.hits;
      hit = (await get(otherUrl, received, me.token, fresh.tag)).status === 304 && cache.counters.hits === hits + 1;
      if (!hit) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hit, 'answers from remembered tags again after the reconnect');
  });
});
