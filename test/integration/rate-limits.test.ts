import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig, type RateLimitConfig } from '../../src/config.js';
import { hashPassword } from '../../src/services/users.js';
import { freePort } from '../helpers/server-process.js';
import { type ApiResponse, type Member, ok, World } from '../helpers/world.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEFAULTS = loadConfig({}).rateLimits;
const HOUR = 3_600_000;

/** Every limit off but those given (on), counted in memory or in this machine's Redis. */
function limits(only: Partial<RateLimitConfig>, store: 'memory' | 'redis' = 'memory'): RateLimitConfig {
  return {
    enabled: true,
    redisUrl: store === 'redis' ? REDIS_URL : undefined,
    perIp: null,
    tokenPerIp: null,
    tokenPerUsername: null,
    connectionRequests: null,
    follows: null,
    ...only,
  };
}

/** A Redis key prefix no other run uses; its keys are deleted when the file ends. */
const namespaces: string[] = [];
function namespace() {
  const name = `kith-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  namespaces.push(name);
  return name;
}

// One database for the file; each test runs servers of its own settings on it.
let database: World;
before(async () => {
  database = await World.start();
});
const servers: World[] = [];
after(async () => {
  for (const server of servers) await server.close();
  await database.close();
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  for (const prefix of namespaces) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

/** A server with these settings on the file's database (each with its own rate-limit store). */
async function start(config: Parameters<World['server']>[0], options: Parameters<World['server']>[1] = {}) {
  const server = await database.server(config, options);
  servers.push(server);
  return server;
}

/** The 429 every limit answers: Retry-After in whole seconds (at most the window), the JSON error body. */
function assertThrottled(response: ApiResponse, windowMs: number) {
  assert.equal(response.status, 429, response.text);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowMs / 1000,
    `Retry-After ${retryAfter}`,
  );
  assert.equal(response.body.code, 'throttled');
  assert.match(response.body.detail, new RegExp(`Expected available in ${retryAfter} seconds?\\.`));
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
}

async function receivedCount(world: World, id: number) {
  const row = await world.db
    .selectFrom('users')
    .select(['requests_received_count', 'requests_sent_count'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return row.requests_received_count;
}

type Tuple<N extends number, T, R extends T[] = []> = R['length'] extends N ? R : Tuple<N, T, [T, ...R]>;

/** `n` new members with unique names, as a tuple to destructure. */
async function members<N extends number>(world: World, n: N): Promise<Tuple<N, Member>> {
  return (await Promise.all(Array.from({ length: n }, () => world.user()))) as Tuple<N, Member>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const store of ['memory', 'redis'] as const) {
  describe(`connection requests per sender (${store})`, () => {
    test('the request over the budget is a 429 that stores nothing; other senders and other actions are not counted', async () => {
      const rate = { max: 3, windowMs: HOUR };
      const world = await start(
        { rateLimits: limits({ connectionRequests: rate }, store) },
        { rateLimitNamespace: namespace() },
      );
      const [sender, other, b, c, d, e, f] = await members(world, 7);
      for (const target of [b, c, d]) await ok(world.act(sender.token, target.id, 'request'));

      const refused = await world.act(sender.token, e.id, 'request');
      assertThrottled(refused, rate.windowMs);
      assert.equal(await receivedCount(world, e.id), 0, 'the refused request was not stored');

      // Another sender has a budget of their own; answering a request is not limited.
      await ok(world.act(other.token, e.id, 'request'));
      await ok(world.act(f.token, sender.id, 'request'));
      await ok(world.act(sender.token, f.id, 'accept'));
      await ok(world.act(sender.token, b.id, 'cancel_request'));

      // The gate answers first: no token is a 401, bad input a 400, neither counted nor throttled.
      assert.equal((await world.act('', e.id, 'request')).status, 401);
      const badId = await world.request('POST', '/api/v2/user/99999999999/connection/request/', {
        token: sender.token,
      });
      assert.equal(badId.status, 400);
    });

    test('the budget comes back when its window ends', async () => {
      const world = await start(
        { rateLimits: limits({ connectionRequests: { max: 1, windowMs: 1000 } }, store) },
        { rateLimitNamespace: namespace() },
      );
      const [sender, b, c] = await members(world, 3);
      await ok(world.act(sender.token, b.id, 'request'));
      const refused = await world.act(sender.token, c.id, 'request');
      assertThrottled(refused, 1000);
      await sleep(Number(refused.headers.get('retry-after')) * 1000 + 100);
      await ok(world.act(sender.token, c.id, 'request'));
    });
  });
}

describe('one Redis, one budget', () => {
  test('two servers sharing a Redis share each sender’s budget; with memory each server counts alone', async () => {
    const rate = { max: 3, windowMs: HOUR };
    const shared = namespace();
    const world = await start(
      { rateLimits: limits({ connectionRequests: rate }, 'redis') },
      { rateLimitNamespace: shared },
    );
    const second = (
      await start({ rateLimits: limits({ connectionRequests: rate }, 'redis') }, { rateLimitNamespace: shared })
    ).baseUrl;
    const [sender, ...targets] = await members(world, 5);
    const bases = [world.baseUrl, second, world.baseUrl, second];
    const answers = [];
    for (const [i, target] of targets.entries()) {
      answers.push(
        await world.request('POST', `${bases[i]}/api/v2/user/${target.id}/connection/request/`, {
          token: sender.token,
        }),
      );
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 429],
    );
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${shared}*`);
    await redis.quit();
    assert.equal(keys.length, 1, `one counter for the sender in Redis: ${keys.join(', ')}`);

    const alone = await start({ rateLimits: limits({ connectionRequests: rate }) });
    const secondAlone = (await start({ rateLimits: limits({ connectionRequests: rate }) })).baseUrl;
    const [sender2, ...targets2] = await members(alone, 5);
    const aloneAnswers = [];
    for (const [i, target] of targets2.entries()) {
      const base = [alone.baseUrl, secondAlone, alone.baseUrl, secondAlone][i];
      aloneAnswers.push(
        (await alone.request('POST', `${base}/api/v2/user/${target.id}/connection/request/`, { token: sender2.token }))
          .status,
      );
    }
    assert.deepEqual(aloneAnswers, [200, 200, 200, 200]);
  });

  test('a Redis that is down lets requests through, uncounted, and says so in the log', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const down = `redis://127.0.0.1:${await freePort()}`;
    const world = await start(
      { rateLimits: { ...limits({ connectionRequests: { max: 1, windowMs: HOUR } }), redisUrl: down } },
      { logger: { level: 'warn', stream } },
    );
    const [sender, b, c] = await members(world, 3);
    await ok(world.act(sender.token, b.id, 'request'));
    await ok(world.act(sender.token, c.id, 'request'));
    assert.equal(await receivedCount(world, c.id), 1);
    const log = lines.join('');
    assert.match(log, /Redis unreachable: rate limits are not enforced until it is back/);
    assert.match(log, /rate-limit store unavailable: requests are let through uncounted/);
  });
});

describe('limits on the routes whose statement loads the member', () => {
  test('the gate still answers first: a 403 (the mode) and a 401 (an inactive member) are not counted', async () => {
    const rate = { max: 1, windowMs: HOUR };
    const world = await start({ rateLimits: limits({ connectionRequests: rate }) });
    const [sender, b, c] = await members(world, 3);
    await world.setPreferences({ follow_enabled: true });
    try {
      assert.equal((await world.act(sender.token, b.id, 'request')).body.code, 'friendship_mode_required');
    } finally {
      await world.setPreferences({ follow_enabled: false });
    }
    const setActive = (active: boolean) =>
      world.db.updateTable('users').set({ is_active: active }).where('id', '=', sender.id).execute();
    await setActive(false);
    try {
      assert.equal((await world.act(sender.token, b.id, 'request')).status, 401);
    } finally {
      await setActive(true);
    }
    // The budget of one is untouched: the first request passes, the second is the 429.
    await ok(world.act(sender.token, b.id, 'request'));
    assertThrottled(await world.act(sender.token, c.id, 'request'), rate.windowMs);
    assert.equal(await receivedCount(world, c.id), 0);
  });
});

describe('follows per sender', () => {
  test('follows and unfollows both count; the one over the budget is a 429 and follows no one', async () => {
    const rate = { max: 2, windowMs: HOUR };
    const world = await start({ rateLimits: limits({ follows: rate }) });
    await world.setPreferences({ follow_enabled: true });
    const [follower, b, c] = await members(world, 3);
    const follow = (token: string, id: number) => world.post(`/api/v2/user/${id}/follow/`, token);
    await ok(follow(follower.token, b.id), 204);
    await ok(follow(follower.token, b.id), 204); // the toggle: unfollowed
    assertThrottled(await follow(follower.token, c.id), rate.windowMs);
    const isFollowed = await world.get(`/api/v2/user/${c.id}/is_followed/`, follower.token);
    assert.equal(isFollowed.body.is_followed, false);
    await ok(follow(b.token, c.id), 204);
    await world.setPreferences({ follow_enabled: false });
  });
});

describe('password grants', () => {
  const PASSWORD = 'Correct-horse-7';
  const grant = (world: World, username: string, password: string, from?: string) =>
    world.request('POST', '/oauth/token/', {
      body: { grant_type: 'password', username, password },
      headers: from ? { 'x-forwarded-for': from } : {},
    });

  test('per username: after the budget even the right password is a 429, whatever the case of the name', async () => {
    const rate = { max: 3, windowMs: 15 * 60_000 };
    const world = await start({ rateLimits: limits({ tokenPerUsername: rate }) });
    const password_hash = await hashPassword(PASSWORD);
    const [victim, bystander] = await Promise.all([world.user({ password_hash }), world.user({ password_hash })]);
    for (const name of [victim.username, victim.username.toUpperCase(), victim.username]) {
      const wrong = await grant(world, name, 'guess');
      assert.equal(wrong.body.code, 'invalid_grant', wrong.text);
    }
    assertThrottled(await grant(world, victim.username, PASSWORD), rate.windowMs);
    await ok(grant(world, bystander.username, PASSWORD));
    // The refresh grant is not a guess: not counted.
    const tokens = (await grant(world, bystander.username, PASSWORD)).body;
    await ok(
      world.request('POST', '/oauth/token/', {
        body: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      }),
    );
  });

  test('per address: the client’s address as TRUST_PROXY says, each with its own budget', async () => {
    const rate = { max: 3, windowMs: 5 * 60_000 };
    const world = await start({ rateLimits: limits({ tokenPerIp: rate }), trustProxy: true });
    for (let i = 0; i < 3; i++) {
      assert.equal((await grant(world, `nobody_${i}`, 'guess', '203.0.113.7')).body.code, 'invalid_grant');
    }
    assertThrottled(await grant(world, 'nobody_3', 'guess', '203.0.113.7'), rate.windowMs);
    assert.equal((await grant(world, 'nobody_3', 'guess', '203.0.113.8')).body.code, 'invalid_grant');
    // One IPv6 client holds a whole /64: it is one budget.
    for (let i = 0; i < 3; i++) await grant(world, 'nobody', 'guess', `2001:db8:0:1::${i + 1}`);
    assertThrottled(await grant(world, 'nobody', 'guess', '2001:db8:0:1::ffff'), rate.windowMs);
  });

  test('without TRUST_PROXY, X-Forwarded-For is not believed: one address, one budget', async () => {
    const world = await start({ rateLimits: limits({ tokenPerIp: { max: 2, windowMs: HOUR } }) });
    const statuses = [];
    for (const from of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      statuses.push((await grant(world, 'nobody', 'guess', from)).status);
    }
    assert.deepEqual(statuses, [400, 400, 429]);
  });
});

describe('the per-address ceiling', () => {
  test('counts every request from the address before the gate; the probes are never limited', async () => {
    const rate = { max: 4, windowMs: HOUR };
    const world = await start({ rateLimits: limits({ perIp: rate }) });
    const member = await world.user();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await world.get(`/api/v2/user/${member.id}/`, member.token)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assertThrottled(await world.get(`/api/v2/user/${member.id}/`, member.token), rate.windowMs);
    // Over the ceiling, a bad token is not even looked at.
    assertThrottled(await world.get(`/api/v2/user/${member.id}/`, 'not-a-token'), rate.windowMs);
    assertThrottled(await world.get('/no/such/path'), rate.windowMs);
    await ok(world.get('/healthz'));
    await ok(world.get('/readyz'));
  });

  test('with the defaults, an honest integration’s burst of 1,000 requests from one address is not throttled', async () => {
    assert.equal(DEFAULTS.enabled, true);
    const world = await start({ rateLimits: DEFAULTS });
    const team = await members(world, 20);
    const statuses = new Map<number, number>();
    let next = 0;
    const client = async () => {
      while (next < 1000) {
        const i = next++;
        const member = team[i % team.length] as Member;
        const target = team[(i * 7) % team.length] as Member;
        const { status } = await world.get(`/api/v2/user/${target.id}/`, member.token);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    assert.deepEqual([...statuses], [[200, 1000]]);
  });
});

describe('the cap on pending outgoing requests', () => {
  test('the request over the cap is a 400 too_many_pending_requests; rejected ones count; cancelling makes room', async () => {
    const world = await start({ maxPendingRequests: 3 });
    const [sender, b, c, d, e, f, g] = await members(world, 7);
    for (const target of [b, c, d]) await ok(world.act(sender.token, target.id, 'request'));

    const refused = await world.act(sender.token, e.id, 'request');
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.code, 'too_many_pending_requests');
    assert.match(refused.body.detail, /3 connection requests waiting/);
    assert.equal(await receivedCount(world, e.id), 0, 'nothing stored');

    // At the cap, a request to someone who asked first connects: it adds no pending request.
    await ok(world.act(f.token, sender.id, 'request'));
    assert.equal((await ok(world.act(sender.token, f.id, 'request'))).body.connection_status, 'connected');

    // A request they rejected still waits as far as the sender knows: it still counts.
    await ok(world.act(b.token, sender.id, 'reject'));
    assert.equal((await world.act(sender.token, g.id, 'request')).body.code, 'too_many_pending_requests');

    await ok(world.act(sender.token, c.id, 'cancel_request'));
    await ok(world.act(sender.token, e.id, 'request'));
  });
});
