import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SEARCH_CAP } from '../../src/db/repositories/people.js';
import { assertPage, expectedUser } from '../helpers/shapes.js';
import { type ApiResponse, type Member, World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

/** Letters no other test's names contain, so each test searches its own members only. */
const tag = () =>
  [...randomBytes(6)]
    .map((b) => String.fromCharCode(97 + (b % 26)))
    .join('')
    .replace(/^/, 'q');
const ids = (page: ApiResponse) => page.body.results.map((u: { id: number }) => u.id);
const search = (query: string, token: string | null) => world.get(`/api/v2/user/search/?${query}`, token);

function assertError(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.detail, 'string');
}

const hide = (hider: Member, hidden: Member) =>
  sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${hider.id}, ${hidden.id})`.execute(world.db);

describe('GET /api/v2/user/search/', () => {
  test('finds by username and by real name, case- and accent-insensitively, by prefix and by substring', async () => {
    const t = tag();
    const me = await world.user();
    const zoe = await world.user({ username: `${t}_zoe`, real_name: 'Zoë Ångström' });
    const elodie = await world.user({ username: `elo_${t}`, real_name: `Élodie ${t.toUpperCase()}Müller` });
    const other = await world.user({ real_name: 'Nobody Special' });

    const cases: Array<[string, number[]]> = [
      [`user=${t}`, [zoe.id, elodie.id]],
      [`user=${t.toUpperCase()}_Z`, [zoe.id]],
      [`user=${encodeURIComponent('ZOE ANG')}`, [zoe.id]],
      [`user=${encodeURIComponent('angstr')}`, [zoe.id]],
      [`user=${encodeURIComponent(`${t}mull`)}`, [elodie.id]],
      [`user=${encodeURIComponent('élodie')}&username=${t}_zoe`, [elodie.id]],
      [`search=${encodeURIComponent(`ÉLO_${t}`)}`, [elodie.id]],
      [`username=${t}`, [zoe.id, elodie.id]],
      [`real_name=${t}`, [elodie.id]],
      [`username=${t}&real_name=zoe`, [zoe.id]],
      // In the two names joined as the trigram index has them (`…_zoe zoe angstrom`), in neither name.
      [`user=${encodeURIComponent(`${t}_zoe zoe`)}`, []],
    ];
    for (const [query, expected] of cases) {
      const page = await search(query, me.token);
      assert.equal(page.status, 200, `${query}: ${page.text}`);
      assertPage(page.body);
      assert.deepEqual(ids(page).sort(), [...expected].sort(), query);
      assert.equal(page.body.count, expected.length, query);
      assert.ok(!ids(page).includes(other.id));
    }
    const page = await search(`user=${t}_zoe`, me.token);
    const row = await world.db.selectFrom('users').selectAll().where('id', '=', zoe.id).executeTakeFirstOrThrow();
    assert.deepEqual(page.body.results[0], expectedUser(row, null, 'friendship'));
  });

  test('LIKE wildcards in a term are plain characters', async () => {
    const t = tag();
    const me = await world.user();
    const a = await world.user({ username: `${t}_a`, real_name: '100% sure' });
    await world.user({ username: `${t}xa` });
    assert.deepEqual(ids(await search(`user=${t}_`, me.token)), [a.id]);
    assert.deepEqual(ids(await search(`real_name=${encodeURIComponent('0% s')}`, me.token)), [a.id]);
  });

  test('short terms match the start of a name only; three characters or more match anywhere', async () => {
    const t = tag();
    const me = await world.user();
    const start = await world.user({ username: `zq${t}` });
    const inside = await world.user({ username: `${t}zq` });
    const page = await search('user=zq&limit=100', me.token);
    assert.ok(ids(page).includes(start.id));
    assert.ok(!ids(page).includes(inside.id), 'a two-letter term does not match inside a name');
    assert.deepEqual(ids(await search(`user=${t.slice(-3)}zq`, me.token)), [inside.id]);
  });

  test('ranks an exact username, then username prefixes, then real-name words, then the other matches', async () => {
    const t = tag();
    const me = await world.user();
    const inside = await world.user({ username: `aa${t}`, real_name: '' });
    const word = await world.user({ username: `zz_${t}_word`, real_name: `Ann ${t}` });
    const prefixB = await world.user({ username: `${t}_b` });
    const prefixA = await world.user({ username: `${t}_a` });
    const exact = await world.user({ username: t });
    // `word` starts with zz (last by username) but its real name has a word starting with the term.
    assert.deepEqual(ids(await search(`user=${t}`, me.token)), [exact.id, prefixA.id, prefixB.id, word.id, inside.id]);
    assert.deepEqual(ids(await search(`user=${t}&ordering=-username`, me.token)), [
      word.id,
      prefixB.id,
      prefixA.id,
      exact.id,
      inside.id,
    ]);
    assert.deepEqual(ids(await search(`user=${t}&ordering=real_name&limit=1`, me.token)).length, 1);
  });

  test('leaves out inactive and deleted members and those I hide, but not those who hide me', async () => {
    const t = tag();
    const me = await world.user();
    const shown = await world.user({ username: `${t}_shown` });
    const inactive = await world.user({ username: `${t}_inactive`, is_active: false });
    const deleted = await world.user({ username: `${t}_deleted`, deleted: true });
    const hidden = await world.user({ username: `${t}_hidden` });
    const hidesMe = await world.user({ username: `${t}_hidesme` });
    await hide(me, hidden);
    await hide(hidesMe, me);
    const page = await search(`user=${t}`, me.token);
    assert.deepEqual(ids(page).sort(), [shown.id, hidesMe.id].sort());
    assert.equal(page.body.count, 2);
    assert.ok(!ids(page).includes(inactive.id) && !ids(page).includes(deleted.id));
    // Someone else still finds the member I hide.
    const someone = await world.user();
    assert.ok(ids(await search(`user=${t}`, someone.token)).includes(hidden.id));
  });

  test('pages: count, next and previous, with the connection status of each member', async () => {
    const t = tag();
    const me = await world.user();
    const members: Member[] = [];
    for (let i = 0; i < 5; i++) members.push(await world.user({ username: `${t}_${i}` }));
    await world.act(me.token, members[1]!.id, 'request');
    const first = await search(`user=${t}&limit=2`, me.token);
    assert.equal(first.body.count, 5);
    assert.deepEqual(ids(first), [members[0]!.id, members[1]!.id]);
    assert.equal(first.body.results[1].connection_status, 'sent_connection_request');
    assert.equal(first.body.previous, null);
    const second = await world.get(new URL(first.body.next).pathname + new URL(first.body.next).search, me.token);
    assert.deepEqual(ids(second), [members[2]!.id, members[3]!.id]);
    assert.notEqual(second.body.previous, null);
    const last = await search(`user=${t}&limit=2&offset=4`, me.token);
    assert.deepEqual(ids(last), [members[4]!.id]);
    assert.equal(last.body.next, null);
  });

  test(`a term matching more than ${SEARCH_CAP} members answers its best ${SEARCH_CAP}`, async () => {
    const t = tag();
    const me = await world.user();
    await sql`
      INSERT INTO users (username, real_name)
      SELECT ${`${t}_1`} || g, 'Bulk' FROM generate_series(1, ${SEARCH_CAP + 20}) g`.execute(world.db);
    const exact = await world.user({ username: `${t}_1` });
    // The exact name sorts first although thousands match.
    const page = await search(`user=${t}_1&limit=3`, me.token);
    assert.equal(page.body.results[0].id, exact.id);
    const all = await search(`user=${t}&limit=100&offset=${SEARCH_CAP - 50}`, me.token);
    assert.equal(all.body.count, SEARCH_CAP);
    assert.equal(all.body.results.length, 50);
    assert.equal(all.body.next, null);
  });

  test('anonymous: allowed while content is public, 401 when it is not', async () => {
    const t = tag();
    const found = await world.user({ username: `${t}_anon` });
    const page = await search(`user=${t}`, null);
    assert.deepEqual(ids(page), [found.id]);
    assert.equal(page.body.results[0].connection_status, null);
    await world.setPreferences({ content_availability: false });
    try {
      assertError(await search(`user=${t}`, null), 401, 'not_authenticated');
      const me = await world.user();
      assert.deepEqual(ids(await search(`user=${t}`, me.token)), [found.id]);
    } finally {
      await world.setPreferences({ content_availability: true });
    }
  });

  test('bad input: 400 naming the parameter, a bad token 401', async () => {
    const me = await world.user();
    for (const query of ['limit=0', 'offset=-1', 'ordering=email', `user=${'x'.repeat(256)}`, 'limit=abc']) {
      const r = await search(query, me.token);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.equal(typeof r.body.detail, 'string');
    }
    assertError(await search('user=abc', 'not-a-token'), 401, 'authentication_failed');
  });
});

describe('GET /api/v2/user/autocomplete/', () => {
  test('one list of the best matches, without me and the excluded ids, next always null', async () => {
    const t = tag();
    const me = await world.user({ username: `${t}_me` });
    const a = await world.user({ username: `${t}_a` });
    const b = await world.user({ username: `${t}_b` });
    const c = await world.user({ username: `${t}_c` });
    const all = await world.get(`/api/v2/user/autocomplete/?search=${t}`, me.token);
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(ids(all), [a.id, b.id, c.id]);
    assert.equal(all.body.count, 3);
    assert.equal(all.body.next, null);
    const some = await world.get(`/api/v2/user/autocomplete/?search=${t}&exclude=${a.id},${c.id}`, me.token);
    assert.deepEqual(ids(some), [b.id]);
    const limited = await world.get(`/api/v2/user/autocomplete/?search=${t}&limit=2`, me.token);
    assert.deepEqual(ids(limited), [a.id, b.id]);
    assert.equal(limited.body.next, null);
  });

  test('401 without a token, 400 for a malformed exclude list or limit', async () => {
    const me = await world.user();
    assertError(await world.get('/api/v2/user/autocomplete/?search=abc', null), 401, 'not_authenticated');
    for (const query of ['exclude=1,,2', 'exclude=a', 'limit=0']) {
      const r = await world.get(`/api/v2/user/autocomplete/?search=abc&${query}`, me.token);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
    }
  });
});

describe('POST /api/v2/user/match/', () => {
  test('the findable members with exactly these usernames, case-insensitive', async () => {
    const t = tag();
    const me = await world.user();
    const a = await world.user({ username: `${t}_Ada` });
    const b = await world.user({ username: `${t}_bob` });
    const hidden = await world.user({ username: `${t}_hid` });
    const gone = await world.user({ username: `${t}_gone`, is_active: false });
    await hide(me, hidden);
    const r = await world.post('/api/v2/user/match/', me.token, [
      `${t}_ada`,
      `${t}_BOB`,
      `${t}_b`,
      `${t}_hid`,
      `${t}_gone`,
      'nobody_at_all',
    ]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.map((u: { id: number }) => u.id),
      [a.id, b.id],
    );
    assert.ok(![hidden.id, gone.id].includes(r.body[0].id));
  });

  test('401 without a token; 400 for a body that is not a list of names or too long a list', async () => {
    const me = await world.user();
    assertError(await world.post('/api/v2/user/match/', null, ['a']), 401, 'not_authenticated');
    for (const body of [{ usernames: ['a'] }, [{ name: 'a' }], Array.from({ length: 101 }, (_, i) => `n${i}`), ['']]) {
      const r = await world.post('/api/v2/user/match/', me.token, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 40)}: ${r.text}`);
    }
  });
});
