import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { renderStoredUsers } from '../../src/db/repositories/user-json.js';
import { assertIsoZ, assertPage, assertUser } from '../helpers/shapes.js';
import { type ApiResponse, type Member, ok, unique, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

/** A next/previous link without kith's own `cursor` parameter, its parameters sorted, for comparison. */
function norm(link: string | null): string | null {
  if (link === null) return null;
  const url = new URL(link);
  url.searchParams.delete('cursor');
  url.searchParams.sort();
  return url.toString();
}

/** next/previous are absolute URLs naming the same page as `expected` (a path relative to the server). */
function assertLink(actual: string | null, expected: string | null) {
  if (expected === null) return assert.equal(actual, null);
  assert.equal(typeof actual, 'string');
  assert.ok(actual!.startsWith(`${world.baseUrl}/`), `absolute: ${actual}`);
  assert.equal(norm(actual), norm(`${world.baseUrl}${expected}`));
}

const ids = (body: any) => body.results.map((item: any) => item.id);
const fromIds = (body: any) => body.results.map((item: any) => item.from_user.id);
const toIds = (body: any) => body.results.map((item: any) => item.to_user.id);

/** `n` members who each send a request to `to`, one after the other (the last one is the newest). */
async function sendersTo(to: Member, n: number): Promise<Member[]> {
  const senders: Member[] = [];
  for (let i = 0; i < n; i++) {
    const s = await world.user();
    await ok(world.act(s.token, to.id, 'request'));
    senders.push(s);
  }
  return senders;
}

const RECEIVED_PATHS = ['/api/v2/user/connection/requests/', '/api/v2/user/connection_requests/'];

describe('received requests', () => {
  for (const path of RECEIVED_PATHS) {
    test(`${path}: pending requests to me, newest first, full items`, async () => {
      const me = await world.user();
      const senders = await sendersTo(me, 4);
      // Someone else's request and my own request are not in my received list.
      const other = await world.user();
      await ok(world.act(me.token, other.id, 'request'));
      await ok(world.act(senders[0]!.token, other.id, 'request'));

      const response = await ok(world.get(path, me.token));
      assertPage(response.body);
      assert.equal(response.body.count, 4);
      assert.equal(response.body.next, null);
      assert.equal(response.body.previous, null);
      assert.deepEqual(fromIds(response.body), senders.map((s) => s.id).reverse());
      const rows = await world.db
        .selectFrom('connection_requests')
        .select(['id', 'created'])
        .where('to_user_id', '=', me.id)
        .orderBy('created', 'desc')
        .orderBy('id', 'desc')
        .execute();
      assert.deepEqual(
        ids(response.body),
        rows.map((r) => r.id),
      );
      for (const [i, item] of response.body.results.entries()) {
        assert.deepEqual(Object.keys(item).sort(), ['created', 'from_user', 'id', 'rejected', 'to_user', 'viewed']);
        assert.equal(typeof item.id, 'number');
        assertUser(item.from_user, {
          id: senders[3 - i]!.id,
          username: senders[3 - i]!.username,
          connection_status: 'received_connection_request',
        });
        assertUser(item.to_user, { id: me.id, username: me.username, connection_status: null });
        assertIsoZ(item.created, 'created');
        assert.equal(item.created, rows[i]!.created.toISOString());
        assert.equal(item.rejected, null);
        assert.equal(item.viewed, null);
      }
    });
  }

  test('both paths give the same page', async () => {
    const me = await world.user();
    await sendersTo(me, 3);
    const [a, b] = (await Promise.all(RECEIVED_PATHS.map((p) => ok(world.get(`${p}?limit=2`, me.token))))) as [
      ApiResponse,
      ApiResponse,
    ];
    assert.deepEqual(a.body.results, b.body.results);
    assert.equal(a.body.count, 3);
    assert.equal(b.body.count, 3);
    assertLink(a.body.next, `${RECEIVED_PATHS[0]}?limit=2&offset=2`);
    assertLink(b.body.next, `${RECEIVED_PATHS[1]}?limit=2&offset=2`);
  });

  test('same created date: newest id first', async () => {
    const me = await world.user();
    const senders = await sendersTo(me, 3);
    const same = new Date('2026-01-02T03:04:05.678Z');
    await world.db.updateTable('connection_requests').set({ created: same }).where('to_user_id', '=', me.id).execute();
    const older = await sendersTo(me, 1);
    await world.db
      .updateTable('connection_requests')
      .set({ created: new Date('2025-01-01T00:00:00.000Z') })
      .where('from_user_id', '=', older[0]!.id)
      .execute();
    const response = await ok(world.get('/api/v2/user/connection/requests/', me.token));
    assert.deepEqual(fromIds(response.body), [senders[2]!.id, senders[1]!.id, senders[0]!.id, older[0]!.id]);
    assert.equal(response.body.results[0].created, '2026-01-02T03:04:05.678Z');
    assert.equal(response.body.results[3].created, '2025-01-01T00:00:00.000Z');
  });

  test('?rejected=true lists the ones I rejected instead, restorable with cancel_reject', async () => {
    const me = await world.user();
    const senders = await sendersTo(me, 4);
    await ok(world.act(me.token, senders[0]!.id, 'reject'));
    await ok(world.act(me.token, senders[2]!.id, 'reject'));
    await ok(world.act(me.token, senders[3]!.id, 'mark_seen'), 204);

    const pending = await ok(world.get('/api/v2/user/connection/requests/', me.token));
    assert.equal(pending.body.count, 2);
    assert.deepEqual(fromIds(pending.body), [senders[3]!.id, senders[1]!.id]);
    assertIsoZ(pending.body.results[0].viewed, 'viewed');
    assert.equal(pending.body.results[1].viewed, null);

    for (const path of RECEIVED_PATHS) {
      const rejected = await ok(world.get(`${path}?rejected=true`, me.token));
      assertPage(rejected.body);
      assert.equal(rejected.body.count, 2);
      assert.deepEqual(fromIds(rejected.body), [senders[2]!.id, senders[0]!.id]);
      for (const item of rejected.body.results) {
        assertIsoZ(item.rejected, 'rejected');
        assertUser(item.from_user, { connection_status: null });
      }
    }
    const explicitFalse = await ok(world.get('/api/v2/user/connection/requests/?rejected=false', me.token));
    assert.deepEqual(fromIds(explicitFalse.body), [senders[3]!.id, senders[1]!.id]);

    await ok(world.act(me.token, senders[0]!.id, 'cancel_reject'));
    const after = await ok(world.get('/api/v2/user/connection/requests/?rejected=true', me.token));
    assert.deepEqual(fromIds(after.body), [senders[2]!.id]);
    const back = await ok(world.get('/api/v2/user/connection/requests/', me.token));
    assert.equal(back.body.count, 3);
    assert.deepEqual(fromIds(back.body), [senders[3]!.id, senders[1]!.id, senders[0]!.id]);
    assert.equal(back.body.results[2].rejected, null);
  });

  test('?rejected=abc is a 400', async () => {
    const me = await world.user();
    const response = await world.get('/api/v2/user/connection/requests/?rejected=abc', me.token);
    assert.equal(response.status, 400, response.text);
    assert.equal(typeof response.body.detail, 'string');
    assert.equal(response.body.code, 'invalid');
  });

  test('accepted requests leave the list; connected users are not there', async () => {
    const me = await world.user();
    const senders = await sendersTo(me, 2);
    await ok(world.act(me.token, senders[0]!.id, 'accept'));
    const response = await ok(world.get('/api/v2/user/connection/requests/', me.token));
    assert.equal(response.body.count, 1);
    assert.deepEqual(fromIds(response.body), [senders[1]!.id]);
  });
});

describe('sent requests', () => {
  test('my pending requests, rejected ones included and shown with rejected: null, newest first', async () => {
    const me = await world.user();
    const targets = [await world.user(), await world.user(), await world.user()];
    for (const t of targets) await ok(world.act(me.token, t.id, 'request'));
    await ok(world.act(targets[1]!.token, me.id, 'reject'));
    await ok(world.act(targets[2]!.token, me.id, 'mark_seen'), 204);
    // A request to me, and one that became a connection, are not in my sent list.
    const fan = await world.user();
    await ok(world.act(fan.token, me.id, 'request'));
    const friend = await world.user();
    await ok(world.act(me.token, friend.id, 'request'));
    await ok(world.act(friend.token, me.id, 'accept'));

    const response = await ok(world.get('/api/v2/user/connection/requests_sent/', me.token));
    assertPage(response.body);
    assert.equal(response.body.count, 3);
    assert.equal(response.body.next, null);
    assert.equal(response.body.previous, null);
    assert.deepEqual(toIds(response.body), targets.map((t) => t.id).reverse());
    for (const [i, item] of response.body.results.entries()) {
      assert.deepEqual(Object.keys(item).sort(), ['created', 'from_user', 'id', 'rejected', 'to_user', 'viewed']);
      assert.equal(item.rejected, null, 'a rejection is never shown to its sender');
      assertUser(item.from_user, { id: me.id, connection_status: null });
      assertUser(item.to_user, { id: targets[2 - i]!.id, connection_status: 'sent_connection_request' });
      assertIsoZ(item.created, 'created');
    }
    assertIsoZ(response.body.results[0].viewed, 'viewed');
    assert.equal(response.body.results[1].viewed, null);

    await ok(world.act(me.token, targets[1]!.id, 'cancel_request'));
    const after = await ok(world.get('/api/v2/user/connection/requests_sent/', me.token));
    assert.equal(after.body.count, 2);
    assert.deepEqual(toIds(after.body), [targets[2]!.id, targets[0]!.id]);
  });
});

describe('connections of a user', () => {
  /** x connected with a..e in that order (e newest); viewer connected with b and d. */
  async function graph() {
    const x = await world.user();
    const viewer = await world.user();
    const friends: Member[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await world.user();
      await ok(world.act(f.token, x.id, 'request'));
      await ok(world.act(x.token, f.id, 'accept'));
      friends.push(f);
    }
    const [a, b, c, d, e] = friends as [Member, Member, Member, Member, Member];
    // The viewer's own connections are made in another order: the list follows the dates with x.
    for (const f of [d, b]) {
      await ok(world.act(viewer.token, f.id, 'request'));
      await ok(world.act(f.token, viewer.id, 'accept'));
    }
    // A pending request from the viewer to c, and an unrelated connection of the viewer.
    await ok(world.act(viewer.token, c.id, 'request'));
    const stranger = await world.user();
    await ok(world.act(viewer.token, stranger.id, 'request'));
    await ok(world.act(stranger.token, viewer.id, 'accept'));
    return { x, viewer, a, b, c, d, e };
  }

  test('shared connections first, then the others, each newest first; mutual=1 and mutual=0', async () => {
    const { x, viewer, a, b, c, d, e } = await graph();
    const all = await ok(world.get(`/api/v2/user/${x.id}/connections/`, viewer.token));
    assertPage(all.body);
    assert.equal(all.body.count, 5);
    assert.deepEqual(ids(all.body), [d.id, b.id, e.id, c.id, a.id]);
    const statuses = all.body.results.map((u: any) => u.connection_status);
    assert.deepEqual(statuses, ['connected', 'connected', null, 'sent_connection_request', null]);
    for (const u of all.body.results) assertUser(u);

    const mutual = await ok(world.get(`/api/v2/user/${x.id}/connections/?mutual=1`, viewer.token));
    assert.equal(mutual.body.count, 2);
    assert.deepEqual(ids(mutual.body), [d.id, b.id]);
    const others = await ok(world.get(`/api/v2/user/${x.id}/connections/?mutual=0`, viewer.token));
    assert.equal(others.body.count, 3);
    assert.deepEqual(ids(others.body), [e.id, c.id, a.id]);

    // Pages of the mutual-first order.
    const page2 = await ok(world.get(`/api/v2/user/${x.id}/connections/?limit=2&offset=2`, viewer.token));
    assert.deepEqual(ids(page2.body), [e.id, c.id]);
    assertLink(page2.body.next, `/api/v2/user/${x.id}/connections/?limit=2&offset=4`);
    assertLink(page2.body.previous, `/api/v2/user/${x.id}/connections/?limit=2`);
    const othersPage = await ok(world.get(`/api/v2/user/${x.id}/connections/?mutual=0&limit=2`, viewer.token));
    assertLink(othersPage.body.next, `/api/v2/user/${x.id}/connections/?mutual=0&limit=2&offset=2`);
  });

  test('x looking at their own connections: newest first, all connected', async () => {
    const { x, a, b, c, d, e } = await graph();
    const own = await ok(world.get(`/api/v2/user/${x.id}/connections/`, x.token));
    assert.deepEqual(ids(own.body), [e.id, d.id, c.id, b.id, a.id]);
    assert.ok(own.body.results.every((u: any) => u.connection_status === 'connected'));
    const a1 = await ok(world.get(`/api/v2/user/${a.id}/connections/`, a.token));
    assert.deepEqual(ids(a1.body), [x.id]);
  });

  test('anonymous access: newest first, statuses null; mutual=1 is empty', async () => {
    const { x, a, b, c, d, e } = await graph();
    const anon = await ok(world.get(`/api/v2/user/${x.id}/connections/`, null));
    assert.equal(anon.body.count, 5);
    assert.deepEqual(ids(anon.body), [e.id, d.id, c.id, b.id, a.id]);
    assert.ok(anon.body.results.every((u: any) => u.connection_status === null));
    const anonMutual = await ok(world.get(`/api/v2/user/${x.id}/connections/?mutual=1`, null));
    assert.equal(anonMutual.body.count, 0);
    assert.deepEqual(anonMutual.body.results, []);
  });

  test('removed connections leave the list and the count', async () => {
    const { x, viewer, b, d } = await graph();
    await ok(world.act(x.token, d.id, 'remove'));
    const all = await ok(world.get(`/api/v2/user/${x.id}/connections/`, viewer.token));
    assert.equal(all.body.count, 4);
    assert.equal(ids(all.body)[0], b.id);
    assert.ok(!ids(all.body).includes(d.id));
  });

  test('a user with no connections: an empty page; an unknown user: 404', async () => {
    const lonely = await world.user();
    const empty = await ok(world.get(`/api/v2/user/${lonely.id}/connections/`, null));
    assert.deepEqual(empty.body, { count: 0, next: null, previous: null, results: [] });
    const unknown = await world.get('/api/v2/user/2000000000/connections/', lonely.token);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'not_found');
  });

  for (const value of ['2', '-1', 'yes', '0.5']) {
    test(`mutual=${value} is a 400`, async () => {
      const me = await world.user();
      const response = await world.get(`/api/v2/user/${me.id}/connections/?mutual=${value}`, me.token);
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.code, 'invalid');
      assert.equal(typeof response.body.detail, 'string');
    });
  }

  test('401 for anonymous visitors when content_availability is false; members still see it', async () => {
    const x = await world.user();
    const f = await world.user();
    await ok(world.act(f.token, x.id, 'request'));
    await ok(world.act(x.token, f.id, 'accept'));
    await world.setPreferences({ content_availability: false });
    try {
      const anon = await world.get(`/api/v2/user/${x.id}/connections/`, null);
      assert.equal(anon.status, 401, anon.text);
      assert.equal(anon.headers.get('www-authenticate')?.startsWith('Bearer'), true);
      assert.equal(anon.body.code, 'not_authenticated');
      const member = await ok(world.get(`/api/v2/user/${x.id}/connections/`, f.token));
      assert.deepEqual(ids(member.body), [f.id]);
    } finally {
      await world.setPreferences({ content_availability: true });
    }
    await ok(world.get(`/api/v2/user/${x.id}/connections/`, null));
  });

  test('the request lists need authentication', async () => {
    for (const path of [...RECEIVED_PATHS, '/api/v2/user/connection/requests_sent/']) {
      const response = await world.get(path, null);
      assert.equal(response.status, 401, `${path}: ${response.text}`);
      assert.equal(response.body.code, 'not_authenticated');
    }
  });
});

describe('pagination', () => {
  let me: Member;
  let expected: number[]; // request ids, newest first
  const PATH = '/api/v2/user/connection/requests/';
  before(async () => {
    me = await world.user();
    await sendersTo(me, 7);
    const rows = await world.db
      .selectFrom('connection_requests')
      .select('id')
      .where('to_user_id', '=', me.id)
      .orderBy('created', 'desc')
      .orderBy('id', 'desc')
      .execute();
    expected = rows.map((r) => r.id);
    assert.equal(expected.length, 7);
  });

  test('an empty list', async () => {
    const nobody = await world.user();
    for (const path of [...RECEIVED_PATHS, '/api/v2/user/connection/requests_sent/']) {
      const response = await ok(world.get(path, nobody.token));
      assert.deepEqual(response.body, { count: 0, next: null, previous: null, results: [] });
    }
    const rejected = await ok(world.get(`${PATH}?rejected=true`, nobody.token));
    assert.deepEqual(rejected.body, { count: 0, next: null, previous: null, results: [] });
  });

  test('an exact page', async () => {
    const response = await ok(world.get(`${PATH}?limit=7`, me.token));
    assert.equal(response.body.count, 7);
    assert.equal(response.body.next, null);
    assert.equal(response.body.previous, null);
    assert.deepEqual(ids(response.body), expected);
  });

  test('the last page', async () => {
    const response = await ok(world.get(`${PATH}?limit=3&offset=6`, me.token));
    assert.equal(response.body.count, 7);
    assert.deepEqual(ids(response.body), expected.slice(6));
    assert.equal(response.body.next, null);
    assertLink(response.body.previous, `${PATH}?limit=3&offset=3`);
  });

  test('a middle page: absolute next and previous, previous drops offset at 0', async () => {
    const response = await ok(world.get(`${PATH}?limit=2&offset=2`, me.token));
    assert.deepEqual(ids(response.body), expected.slice(2, 4));
    assertLink(response.body.next, `${PATH}?limit=2&offset=4`);
    assertLink(response.body.previous, `${PATH}?limit=2`);
    const offsetOne = await ok(world.get(`${PATH}?limit=2&offset=1`, me.token));
    assert.deepEqual(ids(offsetOne.body), expected.slice(1, 3));
    assertLink(offsetOne.body.previous, `${PATH}?limit=2`);
    assertLink(offsetOne.body.next, `${PATH}?limit=2&offset=3`);
  });

  test('other query parameters are kept in next and previous', async () => {
    const response = await ok(world.get(`${PATH}?rejected=false&limit=2&offset=2`, me.token));
    assert.deepEqual(ids(response.body), expected.slice(2, 4));
    const next = new URL(response.body.next);
    const previous = new URL(response.body.previous);
    assert.equal(`${next.origin}${next.pathname}`, `${world.baseUrl}${PATH}`);
    assert.equal(next.searchParams.get('rejected'), 'false');
    assert.equal(next.searchParams.get('limit'), '2');
    assert.equal(next.searchParams.get('offset'), '4');
    assert.equal(previous.searchParams.get('rejected'), 'false');
    assert.equal(previous.searchParams.get('limit'), '2');
    assert.equal(previous.searchParams.has('offset'), false);
  });

  test('the default limit is 20', async () => {
    const busy = await world.user();
    await Promise.all(
      Array.from({ length: 23 }, async () => {
        const s = await world.user();
        await ok(world.act(s.token, busy.id, 'request'));
      }),
    );
    const response = await ok(world.get(PATH, busy.token));
    assert.equal(response.body.count, 23);
    assert.equal(response.body.results.length, 20);
    assertLink(response.body.next, `${PATH}?limit=20&offset=20`);
    assert.equal(response.body.previous, null);
    const rest = await ok(world.get(response.body.next, busy.token));
    assert.equal(rest.body.results.length, 3);
    assert.equal(rest.body.next, null);
    assertLink(rest.body.previous, `${PATH}?limit=20`);
  });

  test('limit is clamped to 100', async () => {
    const popular = await world.user();
    // 108 requests written straight into the tables (counters included): the API path is tested elsewhere.
    const tag = unique('bulk');
    const { rows } = await sql<{ id: number }>`
      INSERT INTO users (username) SELECT ${tag} || '_' || g FROM generate_series(1, 108) g RETURNING id`.execute(
      world.db,
    );
    const senders = rows.map((r) => r.id);
    // Users written by hand-made SQL get their list JSON as the seed's do.
    await renderStoredUsers(world.db, Math.min(...senders));
    await sql`
      INSERT INTO connection_requests (from_user_id, to_user_id, created)
      SELECT s, ${popular.id}::int, now() - make_interval(secs => s::double precision / 1000)
      FROM unnest(${senders}::int[]) s`.execute(world.db);
    await sql`UPDATE users SET requests_sent_count = 1 WHERE id = ANY(${senders}::int[])`.execute(world.db);
    await sql`UPDATE users SET requests_received_count = 108 WHERE id = ${popular.id}`.execute(world.db);

    const response = await ok(world.get(`${PATH}?limit=1000`, popular.token));
    assert.equal(response.body.count, 108);
    assert.equal(response.body.results.length, 100);
    // created = now() - id milliseconds: the smallest id is the newest.
    const newestFirst = [...senders].sort((a, b) => a - b);
    assert.deepEqual(fromIds(response.body), newestFirst.slice(0, 100));
    assertLink(response.body.next, `${PATH}?limit=100&offset=100`);
    const rest = await ok(world.get(response.body.next, popular.token));
    assert.equal(rest.body.results.length, 8);
    const seen = new Set([...ids(response.body), ...ids(rest.body)]);
    assert.equal(seen.size, 108);
    const exactly = await ok(world.get(`${PATH}?limit=101`, popular.token));
    assert.equal(exactly.body.results.length, 100);
    const hundred = await ok(world.get(`${PATH}?limit=100`, popular.token));
    assert.deepEqual(ids(hundred.body), ids(response.body));
  });

  for (const query of [
    'limit=0',
    'limit=-1',
    'offset=-1',
    'limit=abc',
    'offset=abc',
    'limit=1.5',
    'offset=2.5',
    'limit=',
    'limit=1e2',
    'limit=0x10',
    'offset=%205',
    'limit=1e400',
    'offset=99999999999999999999',
  ]) {
    test(`${query} is a 400 with {detail, code}`, async () => {
      for (const path of [PATH, '/api/v2/user/connection/requests_sent/', `/api/v2/user/${me.id}/connections/`]) {
        const response = await world.get(`${path}?${query}`, me.token);
        assert.equal(response.status, 400, `${path}?${query}: ${response.status} ${response.text}`);
        assert.equal(typeof response.body.detail, 'string');
        assert.ok(response.body.detail.length > 0);
        assert.equal(response.body.code, 'invalid');
      }
    });
  }

  test('an offset past the end is a 200 with empty results', async () => {
    for (const path of [PATH, '/api/v2/user/connection/requests_sent/', `/api/v2/user/${me.id}/connections/`]) {
      const response = await ok(world.get(`${path}?offset=500`, me.token));
      assert.deepEqual(response.body.results, []);
      assert.equal(response.body.next, null);
      assert.equal(typeof response.body.count, 'number');
    }
    for (const path of [PATH, `/api/v2/user/${me.id}/connections/`, '/api/v2/user/']) {
      const response = await ok(world.get(`${path}?offset=2147483647`, me.token));
      assert.deepEqual(response.body.results, []);
      assert.equal(response.body.next, null);
    }
    const justPast = await ok(world.get(`${PATH}?offset=7&limit=3`, me.token));
    assert.equal(justPast.body.count, 7);
    assert.deepEqual(justPast.body.results, []);
    assert.equal(justPast.body.next, null);
    assertLink(justPast.body.previous, `${PATH}?limit=3&offset=4`);
  });

  for (const limit of [1, 2, 3, 4, 6, 7]) {
    test(`following next to the end and previous back visits every item once (limit=${limit})`, async () => {
      const forward: number[] = [];
      let url: string | null = `${PATH}?limit=${limit}`;
      let pages = 0;
      let last: any;
      while (url) {
        const response = await ok(world.get(url, me.token));
        assert.equal(response.body.count, 7);
        forward.push(...ids(response.body));
        last = response.body;
        url = response.body.next;
        assert.ok(++pages <= 10, 'terminates');
      }
      assert.deepEqual(forward, expected);

      const backward: number[][] = [];
      let prev: string | null = last.previous;
      backward.push(ids(last));
      while (prev) {
        const response = await ok(world.get(prev, me.token));
        backward.unshift(ids(response.body));
        prev = response.body.previous;
        assert.ok(++pages <= 20, 'terminates');
      }
      assert.deepEqual(backward.flat(), expected);
    });
  }

  test('following next over the connections list with mutual kept', async () => {
    const x = await world.user();
    const viewer = await world.user();
    const friends: number[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await world.user();
      await ok(world.act(f.token, x.id, 'request'));
      await ok(world.act(x.token, f.id, 'accept'));
      friends.push(f.id);
    }
    const seen: number[] = [];
    let url: string | null = `/api/v2/user/${x.id}/connections/?mutual=0&limit=2`;
    while (url) {
      const response = await ok(world.get(url, viewer.token));
      seen.push(...ids(response.body));
      url = response.body.next;
      if (url) assert.equal(new URL(url).searchParams.get('mutual'), '0');
    }
    assert.deepEqual(seen, friends.reverse());
  });
});
