import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import {
  countStaleUserJson,
  ensureStoredUsersCurrent,
  renderStoredUsers,
} from '../../src/db/repositories/user-json.js';
import type { NewUser } from '../../src/db/schema.js';
import { checkCommunity, seedCommunity, seedFollows } from '../../src/db/seed.js';
import { signAccessToken } from '../../src/services/tokens.js';
import { expectedUser } from '../helpers/shapes.js';
import { type ApiResponse, JWT_SECRET, unique, World } from '../helpers/world.js';

let world: World;

const CLEAN = {
  wrongCounters: 0,
  overlaps: 0,
  wrongDays: 0,
  staleJson: 0,
  wrongFollowCounters: 0,
  wrongFollowDays: 0,
  wrongWithheld: 0,
};
before(async () => {
  world = await World.start();
});
after(() => world.close());

// Every kind of character JSON must escape, and some it must not.
const tricky = (): Partial<NewUser> => ({
  real_name: 'Zoë "Q" \\ back\nslash\t\u0001\u001f </script> 😀 \u2028',
  bio: 'line one\r\nline two \b\f "quoted"',
  location: 'São Paulo',
  description: 'd',
  website: 'https://example.org/a?b=c&d="e"',
  company_name: 'ACME',
  company_role: 'Chief "Fun" Officer',
  avatar: 'https://cdn.example.org/a.png',
  cover: null,
  ext_id: unique('ext-ü'),
  date_of_birth: '1990-05-17',
  gender: 'Female',
});

describe('lists built from stored user JSON', () => {
  const rowOf = (id: number) => world.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const requestBetween = (from: number, to: number) =>
    world.db
      .selectFrom('connection_requests')
      .selectAll()
      .where('from_user_id', '=', from)
      .where('to_user_id', '=', to)
      .executeTakeFirstOrThrow();
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());

  test('received, rejected and sent pages show each request with both users as the schema page describes', async () => {
    const me = await world.user(tricky());
    const senders = [];
    for (let i = 0; i < 4; i++) {
      const s = await world.user(i % 2 ? tricky() : { real_name: `plain ${i}` });
      await world.act(s.token, me.id, 'request');
      senders.push(s);
    }
    await world.act(me.token, senders[1]!.id, 'mark_seen');
    await world.act(me.token, senders[2]!.id, 'reject');
    const others = [];
    for (let i = 0; i < 3; i++) {
      const o = await world.user(i === 1 ? tricky() : {});
      await world.act(me.token, o.id, 'request');
      others.push(o);
    }
    await world.act(others[0]!.token, me.id, 'reject'); // a rejected request still shows as sent, rejected: null

    const myRow = await rowOf(me.id);
    const item = async (
      from: number,
      to: number,
      statusOfOther: string | null,
      mine: 'from' | 'to',
      rejected: boolean,
    ) => {
      const request = await requestBetween(from, to);
      const other = await rowOf(mine === 'to' ? from : to);
      const [fromUser, toUser] =
        mine === 'to'
          ? [expectedUser(other, statusOfOther, 'friendship'), expectedUser(myRow, null, 'friendship')]
          : [expectedUser(myRow, null, 'friendship'), expectedUser(other, statusOfOther, 'friendship')];
      return {
        id: request.id,
        from_user: fromUser,
        to_user: toUser,
        created: iso(request.created),
        rejected: rejected ? iso(request.rejected) : null,
        viewed: iso(request.viewed),
      };
    };

    const pending = await world.get('/api/v2/user/connection/requests/', me.token);
    assert.equal(pending.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(pending.body, {
      count: 3,
      next: null,
      previous: null,
      results: [
        await item(senders[3]!.id, me.id, 'received_connection_request', 'to', false),
        await item(senders[1]!.id, me.id, 'received_connection_request', 'to', false),
        await item(senders[0]!.id, me.id, 'received_connection_request', 'to', false),
      ],
    });
    assert.ok(pending.body.results[1]?.viewed, 'mark_seen shows');

    const rejected = await world.get('/api/v2/user/connection/requests/?rejected=true', me.token);
    assert.deepEqual(rejected.body.results, [await item(senders[2]!.id, me.id, null, 'to', true)]);
    assert.equal(rejected.body.count, 1);

    const sent = await world.get('/api/v2/user/connection/requests_sent/', me.token);
    assert.deepEqual(sent.body.results, [
      await item(me.id, others[2]!.id, 'sent_connection_request', 'from', false),
      await item(me.id, others[1]!.id, 'sent_connection_request', 'from', false),
      await item(me.id, others[0]!.id, 'sent_connection_request', 'from', false),
    ]);
    assert.equal(sent.body.count, 3);
    assert.equal(await countStaleUserJson(world.db), 0);
  });

  test('connections pages show each user with my status towards them', async () => {
    const me = await world.user(tricky());
    const them = await world.user();
    const shared = await world.user(tricky());
    for (const [a, b] of [
      [me, them],
      [me, shared],
      [them, shared],
    ] as const) {
      await world.act(a.token, b.id, 'request');
      await world.act(b.token, a.id, 'accept');
    }
    const signedIn = await world.get(`/api/v2/user/${them.id}/connections/`, me.token);
    // shared is connected to me too: first; then me (no status towards myself).
    assert.deepEqual(signedIn.body.results, [
      expectedUser(await rowOf(shared.id), 'connected', 'friendship'),
      expectedUser(await rowOf(me.id), null, 'friendship'),
    ]);
    const anonymous = await world.get(`/api/v2/user/${them.id}/connections/`, null);
    assert.deepEqual(
      new Set(anonymous.body.results),
      new Set([
        expectedUser(await rowOf(shared.id), null, 'friendship'),
        expectedUser(await rowOf(me.id), null, 'friendship'),
      ]),
    );
  });

  test('a profile change and every action are in the next list at once: the stored JSON follows the row', async () => {
    const me = await world.user();
    const fan = await world.user({ real_name: 'Before' });
    await world.act(fan.token, me.id, 'request');
    const patch = await world.request('PATCH', `/api/v2/user/${fan.id}/`, {
      token: fan.token,
      body: { real_name: 'After "quoted" ü', bio: 'new\nbio' },
    });
    assert.equal(patch.status, 200, patch.text);
    const page = await world.get('/api/v2/user/connection/requests/', me.token);
    assert.equal(page.body.results[0].from_user.real_name, 'After "quoted" ü');
    assert.deepEqual(
      page.body.results[0].from_user,
      expectedUser(await rowOf(fan.id), 'received_connection_request', 'friendship'),
    );
    await world.act(me.token, fan.id, 'accept');
    const friends = await world.get(`/api/v2/user/${me.id}/connections/`, fan.token);
    assert.equal(friends.body.results[0].connections_counter, 1);
    assert.equal(await countStaleUserJson(world.db), 0);
  });

  test('a changed renderer renders every stored user again at start', async () => {
    const someone = await world.user({ real_name: 'Stale Me' });
    await world.db
      .updateTable('user_json')
      .set({ head: '{"stale":', tail: '}' })
      .where('user_id', '=', someone.id)
      .execute();
    assert.ok((await countStaleUserJson(world.db)) >= 1);
    // Already current by its version: nothing done, the damage stays (kith check would report it).
    assert.equal(await ensureStoredUsersCurrent(world.db), 0);
    await world.db.updateTable('kith_meta').set({ value: 'an older renderer' }).execute();
    const rendered = await ensureStoredUsersCurrent(world.db);
    const { n } = await world.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(rendered, n);
    assert.equal(await countStaleUserJson(world.db), 0);
    assert.equal(await ensureStoredUsersCurrent(world.db), 0);
  });
});

describe('cursors and deep offsets', () => {
  let star: Awaited<ReturnType<World['user']>>;
  const N = 2600;

  before(async () => {
    // A small celebrity: N requests spread over about 60 days, inserted in one statement (the
    // trigger keeps the per-day counts), counters set to match.
    star = await world.user();
    await sql`
      WITH s AS (
        INSERT INTO users (username, real_name)
        SELECT 'fan_' || ${star.id} || '_' || g, 'Fan ' || g FROM generate_series(1, ${N}) g
        RETURNING id
      )
      INSERT INTO connection_requests (from_user_id, to_user_id, created)
      SELECT id, ${star.id}, now() - (id % 997) * interval '87 minutes' - (id % 13) * interval '1 ms' FROM s`.execute(
      world.db,
    );
    await sql`UPDATE users SET requests_received_count = ${N} WHERE id = ${star.id}`.execute(world.db);
    await sql`UPDATE users SET requests_sent_count = 1 WHERE username LIKE ${`fan_${star.id}_%`}`.execute(world.db);
    // Users written by hand-made SQL get their list JSON as the seed's do.
    await renderStoredUsers(world.db, star.id + 1);
  });

  const expectedIds = async (offset: number, limit: number) => {
    const { rows } = await sql<{ id: number }>`
      SELECT id FROM connection_requests WHERE to_user_id = ${star.id} AND rejected IS NULL
      ORDER BY created DESC, id DESC LIMIT ${limit} OFFSET ${offset}`.execute(world.db);
    return rows.map((r) => r.id);
  };
  const pageIds = (body: any) => body.results.map((r: { id: number }) => r.id);

  test('a deep offset (found through the per-day counts) gives the same page as a plain skip', async () => {
    for (const offset of [1999, 2000, 2001, 2345, 2580, 2599]) {
      const page = await world.get(`/api/v2/user/connection/requests/?limit=20&offset=${offset}`, star.token);
      assert.equal(page.status, 200);
      assert.deepEqual(pageIds(page.body), await expectedIds(offset, 20), `offset ${offset}`);
      assert.equal(page.body.count, N);
      if (offset + 20 >= N) assert.equal(page.body.next, null);
    }
  });

  test('following next links (cursors) walks the whole list once, in order, keeping limit and offset', async () => {
    const seen: number[] = [];
    let url: string | null = '/api/v2/user/connection/requests/?limit=100';
    let pages = 0;
    while (url) {
      const page: ApiResponse = await world.get(url, star.token);
      assert.equal(page.status, 200, page.text);
      seen.push(...pageIds(page.body));
      pages += 1;
      url = page.body.next;
      if (url) {
        const next = new URL(url);
        assert.equal(next.searchParams.get('limit'), '100');
        assert.equal(next.searchParams.get('offset'), String(pages * 100));
        assert.ok(next.searchParams.get('cursor'));
      }
    }
    assert.equal(pages, Math.ceil(N / 100));
    assert.deepEqual(seen, await expectedIds(0, N));
  });

  test('a cursor keeps its place when newer requests arrive; a bad cursor is a 400 naming the field', async () => {
    const first = await world.get('/api/v2/user/connection/requests/?limit=5', star.token);
    const late = await world.user();
    await world.act(late.token, star.id, 'request');
    const second = await world.get(first.body.next, star.token);
    assert.deepEqual(pageIds(second.body), await expectedIds(6, 5));
    const bad = await world.get('/api/v2/user/connection/requests/?cursor=bm9wZQ', star.token);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'invalid');
    assert.ok(bad.body.errors.cursor);
  });

  test('an edited next link serves the offset and limit it asks for: the cursor only counts for its own page', async () => {
    const first = await world.get('/api/v2/user/connection/requests/?limit=20', star.token);
    const next = new URL(first.body.next);
    assert.ok(next.searchParams.get('cursor'));
    const edited = (changes: Record<string, string>, path = next.pathname) => {
      const url = new URL(next);
      url.pathname = path;
      for (const [key, value] of Object.entries(changes)) url.searchParams.set(key, value);
      return url.toString();
    };
    // The link as given, then jumps by editing offset and limit (deep ones too).
    const jumps: Array<[Record<string, string>, number, number]> = [
      [{}, 20, 20],
      [{ offset: '15' }, 15, 20],
      [{ offset: '0' }, 0, 20],
      [{ offset: '40' }, 40, 20],
      [{ offset: '2345' }, 2345, 20],
      [{ limit: '7' }, 20, 7],
      [{ limit: '50', offset: '21' }, 21, 50],
    ];
    for (const [changes, offset, limit] of jumps) {
      const page = await world.get(edited(changes), star.token);
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(pageIds(page.body), await expectedIds(offset, limit), JSON.stringify(changes));
    }
    // The same cursor on another list, or as another member: ignored, each list's own page 2.
    const other = await world.user();
    await world.act(other.token, star.id, 'request');
    await world.act(star.token, other.id, 'reject');
    const rejected = await world.get(edited({ rejected: 'true' }), star.token);
    assert.deepEqual(pageIds(rejected.body), []);
    assert.equal(rejected.body.count, 1);
    const asOther = await world.get(edited({ offset: '0' }), other.token);
    assert.equal(asOther.status, 200, asOther.text);
    assert.equal(asOther.body.count, 0);
    const sent = await world.get(edited({ offset: '0' }, '/api/v2/user/connection/requests_sent/'), other.token);
    assert.deepEqual(
      sent.body.results.map((r: any) => r.to_user.id),
      [star.id],
    );
  });

  test('per-day counts follow rejections, restorations, acceptances and cancellations', async () => {
    const page = await world.get('/api/v2/user/connection/requests/?limit=4&offset=2100', star.token);
    const [a, b, c] = page.body.results.map((r: any) => r.from_user.id as number);
    await world.act(star.token, a!, 'reject');
    await world.act(star.token, b!, 'accept');
    await world.act(star.token, c!, 'reject');
    await world.act(star.token, c!, 'cancel_reject');
    const after = await world.get('/api/v2/user/connection/requests/?limit=20&offset=2050', star.token);
    assert.deepEqual(pageIds(after.body), await expectedIds(2050, 20));
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
  });
});

describe('kith seed', () => {
  test('builds a consistent community: exact counters, no overlaps, the celebrity has M requests and F followers', async () => {
    const result = await seedCommunity(world.db, {
      users: 400,
      celebrityRequests: 150,
      celebrityFollowers: 120,
      seed: 7,
    });
    assert.deepEqual(result.check, CLEAN);
    assert.deepEqual(await checkCommunity(world.db), CLEAN);
    assert.equal(result.celebrity.pending, 150);
    assert.equal(result.celebrity.followers, 120);
    assert.ok(result.rows.follows > 400, 'members follow others besides the celebrity');
    assert.ok(result.rows.connections > 0 && result.rows.pending > 150 && result.rows.rejected > 0);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM connections a
      WHERE NOT EXISTS (SELECT 1 FROM connections b WHERE b.user_id = a.friend_id AND b.friend_id = a.user_id)`.execute(
      world.db,
    );
    assert.equal(rows[0]!.n, 0, 'every connection is stored both ways');
    const page = await world.get(
      '/api/v2/user/connection/requests/?limit=3',
      await signAccessToken(JWT_SECRET, result.celebrity.id, 60),
    );
    assert.equal(page.body.count, 150);

    // Follow mode: the celebrity's followers, walked along `next` links, are 120 distinct members.
    await world.setPreferences({ follow_enabled: true });
    try {
      const seen = new Set<number>();
      let path: string | null = `/api/v2/user/${result.celebrity.id}/followers/?limit=50`;
      while (path) {
        const followers: ApiResponse = await world.get(path);
        assert.equal(followers.status, 200, followers.text);
        assert.equal(followers.body.count, 120);
        for (const user of followers.body.results) seen.add(user.id);
        path = followers.body.next ? new URL(followers.body.next).pathname + new URL(followers.body.next).search : null;
      }
      assert.equal(seen.size, 120);
      assert.ok(!seen.has(result.celebrity.id));
      assert.ok([...seen].every((id) => id >= result.firstUserId && id < result.lastUserId));
    } finally {
      await world.setPreferences({ follow_enabled: false });
    }

    // Adding follows to an older community sets counters: it refuses a community that has follows.
    await assert.rejects(
      seedFollows(world.db, { firstUserId: result.firstUserId, lastUserId: result.lastUserId, seed: 7 }),
      /has follows already/,
    );
  });
});
