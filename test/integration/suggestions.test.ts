import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SUGGESTION_BOUNDS } from '../../src/db/repositories/people.js';
import { assertPage, expectedUser } from '../helpers/shapes.js';
import { type ApiResponse, type Member, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

const PATH = '/api/v2/suggestion/user/';
const ids = (page: ApiResponse): number[] => page.body.results.map((u: { id: number }) => u.id);
const suggest = (who: Member, query = '') => world.get(`${PATH}${query}`, who.token);

/** A connection between a and b (a row per side), as the server stores one. */
const connect = (a: Member, b: Member) =>
  sql`INSERT INTO connections (user_id, friend_id, created) VALUES (${a.id}, ${b.id}, now()), (${b.id}, ${a.id}, now())`.execute(
    world.db,
  );
const follow = (a: Member, b: Member) =>
  sql`INSERT INTO follows (follower_id, followed_id) VALUES (${a.id}, ${b.id})`.execute(world.db);
const hide = (hider: Member, hidden: Member) =>
  sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${hider.id}, ${hidden.id})`.execute(world.db);

/** Every suggestion of `who`, page by page. */
async function allSuggestions(who: Member): Promise<number[]> {
  const found: number[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await suggest(who, `?limit=100&offset=${offset}`);
    assert.equal(page.status, 200, page.text);
    found.push(...ids(page));
    if (page.body.next === null) return found;
  }
}

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.detail, 'string');
}

describe('GET /api/v2/suggestion/user/', () => {
  test('friends of friends, most mutual connections first, then the newest member', async () => {
    const me = await world.user();
    const [f1, f2, f3] = [await world.user(), await world.user(), await world.user()];
    const z1 = await world.user();
    const x = await world.user();
    const y = await world.user();
    const z2 = await world.user();
    for (const f of [f1!, f2!, f3!]) await connect(me, f);
    for (const f of [f1!, f2!, f3!]) await connect(f, x);
    for (const f of [f1!, f2!]) await connect(f, y);
    await connect(f1!, z1);
    await connect(f3!, z2);
    const page = await suggest(me, '?limit=4');
    assert.equal(page.status, 200, page.text);
    assertPage(page.body);
    // x: 3 mutual, y: 2, then z2 and z1 with 1 each, the newer member (z2) first.
    assert.deepEqual(ids(page), [x.id, y.id, z2.id, z1.id]);
    const row = await world.db.selectFrom('users').selectAll().where('id', '=', x.id).executeTakeFirstOrThrow();
    assert.deepEqual(page.body.results[0], expectedUser(row, null, 'friendship'));
    assert.ok(page.body.count >= 4);
    assert.notEqual(page.body.next, null);
  });

  test('leaves out me, my connections, any request either way, hidden, hiding, inactive and deleted members', async () => {
    const me = await world.user();
    const friend = await world.user();
    await connect(me, friend);
    const ok = await world.user();
    const connected = await world.user();
    const sent = await world.user();
    const received = await world.user();
    const rejected = await world.user();
    const hidden = await world.user();
    const hidesMe = await world.user();
    const inactive = await world.user({ is_active: false });
    const deleted = await world.user({ deleted: true });
    const excluded = [connected, sent, received, rejected, hidden, hidesMe, inactive, deleted];
    for (const m of [ok, ...excluded]) await connect(friend, m);
    await connect(me, connected);
    await world.act(me.token, sent.id, 'request');
    await world.act(received.token, me.id, 'request');
    await world.act(me.token, rejected.id, 'request');
    await world.act(rejected.token, me.id, 'reject');
    await hide(me, hidden);
    await hide(hidesMe, me);

    const all = await allSuggestions(me);
    assert.equal(all[0], ok.id, 'the one friend of a friend left is first');
    for (const m of [me, friend, ...excluded]) assert.ok(!all.includes(m.id), `member ${m.id} is not suggested`);
    assert.equal(new Set(all).size, all.length, 'no member twice');
    const page = await suggest(me, '?limit=1');
    assert.equal(page.body.count, all.length);
  });

  test('a member with no connection yet gets the newest members', async () => {
    const older = await world.user();
    const me = await world.user();
    const newest = await world.user();
    const page = await suggest(me, '?limit=100');
    assert.equal(page.status, 200, page.text);
    assert.equal(ids(page)[0], newest.id);
    assert.ok(ids(page).includes(older.id));
    assert.ok(!ids(page).includes(me.id));
  });

  test('pages: next and previous links, and the pages add up to the whole list', async () => {
    const me = await world.user();
    const friend = await world.user();
    await connect(me, friend);
    for (let i = 0; i < 5; i++) await connect(friend, await world.user());
    const all = await allSuggestions(me);
    const first = await suggest(me, '?limit=3');
    assert.equal(first.body.count, all.length);
    assert.deepEqual(ids(first), all.slice(0, 3));
    assert.equal(first.body.previous, null);
    const next = new URL(first.body.next);
    const second = await world.get(next.pathname + next.search, me.token);
    assert.deepEqual(ids(second), all.slice(3, 6));
    assert.notEqual(second.body.previous, null);
    const beyond = await suggest(me, `?offset=${all.length}`);
    assert.deepEqual(ids(beyond), []);
    assert.equal(beyond.body.next, null);
  });

  test(`looks at my ${SUGGESTION_BOUNDS.FRIENDS} newest connections only`, async () => {
    const me = await world.user();
    const old = await world.user();
    const viaOld = await world.user();
    await sql`INSERT INTO connections (user_id, friend_id, created)
              VALUES (${me.id}, ${old.id}, now() - interval '1 year'), (${old.id}, ${me.id}, now() - interval '1 year')`.execute(
      world.db,
    );
    await connect(old, viaOld);
    const recent: Member[] = [];
    for (let i = 0; i < SUGGESTION_BOUNDS.FRIENDS; i++) recent.push(await world.user());
    await sql`INSERT INTO connections (user_id, friend_id, created)
              SELECT ${me.id}, f, now() FROM unnest(${recent.map((m) => m.id)}::int[]) f
              UNION ALL SELECT f, ${me.id}, now() FROM unnest(${recent.map((m) => m.id)}::int[]) f`.execute(world.db);
    const viaRecent = await world.user();
    await connect(recent[0]!, viaRecent);
    const all = await allSuggestions(me);
    assert.equal(all[0], viaRecent.id);
    assert.ok(!all.includes(viaOld.id), 'a friend of my 101st newest connection is not looked at');
    assert.ok(all.length <= SUGGESTION_BOUNDS.KEPT);
  });

  test('follow mode: followings of my followings, without those I follow already', async () => {
    const me = await world.user();
    const [f1, f2] = [await world.user(), await world.user()];
    const y = await world.user();
    const x = await world.user();
    const already = await world.user();
    const friendOfFriend = await world.user();
    await follow(me, f1!);
    await follow(me, f2!);
    await follow(me, already);
    for (const f of [f1!, f2!]) await follow(f, x);
    await follow(f1!, y);
    await follow(f1!, already);
    // Connections count for nothing in follow mode.
    await connect(me, f1!);
    await connect(f1!, friendOfFriend);
    await world.setPreferences({ follow_enabled: true });
    try {
      const page = await suggest(me, '?limit=2');
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(ids(page), [x.id, y.id]);
      const row = await world.db.selectFrom('users').selectAll().where('id', '=', x.id).executeTakeFirstOrThrow();
      assert.deepEqual(page.body.results[0], expectedUser(row, null, 'follow'));
      const all = await allSuggestions(me);
      assert.ok(!all.includes(already.id));
      assert.ok(!all.includes(f1!.id) && !all.includes(f2!.id));
    } finally {
      await world.setPreferences({ follow_enabled: false });
    }
  });

  test('401 without a token or for an inactive member, 400 for a bad limit or offset', async () => {
    assertError(await world.get(PATH, null), 401, 'not_authenticated');
    assertError(await world.get(PATH, 'not-a-token'), 401, 'authentication_failed');
    const gone = await world.user();
    await world.db.updateTable('users').set({ is_active: false }).where('id', '=', gone.id).execute();
    assert.equal((await suggest(gone)).status, 401);
    const me = await world.user();
    for (const query of ['?limit=0', '?limit=x', '?offset=-1', '?offset=99999999999']) {
      const r = await suggest(me, query);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.equal(typeof r.body.detail, 'string');
    }
  });
});
