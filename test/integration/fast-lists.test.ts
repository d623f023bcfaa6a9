import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { listReceived, listSent } from '../../src/db/repositories/connections.js';
import { findActiveViewer, findUserWithStatus } from '../../src/db/repositories/users.js';
import type { NewUser } from '../../src/db/schema.js';
import { checkCommunity, seedCommunity } from '../../src/db/seed.js';
import { presentReceived, presentSent } from '../../src/http/presenters/connection-requests.js';
import { presentUser } from '../../src/http/presenters/users.js';
import { signAccessToken } from '../../src/services/tokens.js';
import { type ApiResponse, JWT_SECRET, unique, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

/** Everything from `"results":` to the end: the part the database builds. */
const resultsText = (text: string) => text.slice(text.indexOf('"results":'));

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

describe('lists built as JSON by the database', () => {
  test('received, rejected and sent pages are byte for byte what the presenters print', async () => {
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

    const viewer = (await findActiveViewer(world.db, me.id))!;
    const pending = await world.get('/api/v2/user/connection/requests/', me.token);
    const expectedPending = (await listReceived(world.db, me.id, false, 20, 0)).map((i) => presentReceived(viewer, i));
    assert.equal(resultsText(pending.text), `"results":${JSON.stringify(expectedPending)}}`);
    assert.equal(pending.body.count, 3);
    assert.equal(pending.headers.get('content-type'), 'application/json; charset=utf-8');

    const rejected = await world.get('/api/v2/user/connection/requests/?rejected=true', me.token);
    const expectedRejected = (await listReceived(world.db, me.id, true, 20, 0)).map((i) => presentReceived(viewer, i));
    assert.equal(resultsText(rejected.text), `"results":${JSON.stringify(expectedRejected)}}`);
    assert.equal(rejected.body.count, 1);

    const sent = await world.get('/api/v2/user/connection/requests_sent/', me.token);
    const expectedSent = (await listSent(world.db, me.id, 20, 0)).map((i) => presentSent(viewer, i));
    assert.equal(resultsText(sent.text), `"results":${JSON.stringify(expectedSent)}}`);
    assert.equal(sent.body.count, 3);
  });

  test('connections pages are byte for byte what presentUser prints', async () => {
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
    for (const token of [me.token, null]) {
      const page = await world.get(`/api/v2/user/${them.id}/connections/`, token);
      const viewerId = token ? me.id : null;
      const expected = [];
      for (const id of page.body.results.map((u: { id: number }) => u.id)) {
        const row = (await findUserWithStatus(world.db, viewerId, id))!;
        expected.push(presentUser(row, row.connection_status));
      }
      assert.equal(page.body.results.length, 2);
      assert.equal(resultsText(page.text), `"results":${JSON.stringify(expected)}}`);
    }
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
    assert.deepEqual(await checkCommunity(world.db), { wrongCounters: 0, overlaps: 0, wrongDays: 0, staleJson: 0 });
  });
});

describe('kith seed', () => {
  test('builds a consistent community: exact counters, no overlaps, the celebrity has M requests', async () => {
    const result = await seedCommunity(world.db, { users: 400, celebrityRequests: 150, seed: 7 });
    assert.deepEqual(result.check, { wrongCounters: 0, overlaps: 0, wrongDays: 0, staleJson: 0 });
    assert.equal(result.celebrity.pending, 150);
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
  });
});
