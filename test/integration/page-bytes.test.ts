import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ok, World } from '../helpers/world.js';

/**
 * The list pages are JSON text built by PostgreSQL and sent as is (db/pages): these tests check that
 * the bytes on the wire are exactly the page's UTF-8 JSON whatever the names hold, with a
 * Content-Length that counts bytes, not characters.
 */

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

// Two-, three- and four-byte UTF-8, a combining accent, a ZWJ sequence and JSON escapes.
const NAMES = ['Zoë Åsa Ñandú Ørsted', 'Emoji 😀 👩‍👩‍👧 🇮🇹', '山田太郎 김민수 Ελένη', 'e\u0301 "quoted" \\ slash'];

/** The raw answer: its bytes, its headers and the bytes' text. */
async function rawGet(path: string, token: string) {
  const response = await fetch(`${world.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(response.status, 200, bytes.toString());
  return { bytes, headers: response.headers, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
}

/** Checks that `bytes` are exactly compact UTF-8 JSON with the right length, and that each name is in them as JSON text. */
function assertExactJson(page: Awaited<ReturnType<typeof rawGet>>, names: string[]) {
  assert.equal(page.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(Number(page.headers.get('content-length')), page.bytes.length);
  // Re-serializing the parsed page gives the same bytes: nothing was transcoded, doubled or cut.
  assert.deepEqual(Buffer.from(JSON.stringify(JSON.parse(page.text)), 'utf8'), page.bytes);
  for (const name of names) {
    assert.ok(page.bytes.includes(Buffer.from(JSON.stringify(name), 'utf8')), `${name} is in the page as UTF-8 JSON`);
  }
}

describe('list pages on the wire', () => {
  test('request lists and the connections page carry non-ASCII names byte for byte, with a matching Content-Length', async () => {
    const me = await world.user({ real_name: '日本語の名前 é' });
    const senders = [];
    for (const real_name of NAMES) {
      const sender = await world.user({ real_name, location: 'São Paulo 🌍' });
      await ok(world.act(sender.token, me.id, 'request'));
      senders.push(sender);
    }

    const received = await rawGet('/api/v2/user/connection/requests/?limit=20', me.token);
    assertExactJson(received, [...NAMES, '日本語の名前 é', 'São Paulo 🌍']);
    const body = JSON.parse(received.text);
    assert.equal(body.count, NAMES.length);
    assert.deepEqual(
      body.results.map((r: { from_user: { real_name: string } }) => r.from_user.real_name),
      [...NAMES].reverse(),
    );

    // A page with a `next` link (and its cursor) before the items.
    const first = await rawGet('/api/v2/user/connection/requests/?limit=2', me.token);
    assertExactJson(first, NAMES.slice(2));
    assert.match(JSON.parse(first.text).next, /cursor=/);

    const sent = await rawGet('/api/v2/user/connection/requests_sent/', senders[1]!.token);
    assertExactJson(sent, [NAMES[1]!, '日本語の名前 é']);

    await ok(world.act(me.token, senders[0]!.id, 'reject'));
    const rejected = await rawGet('/api/v2/user/connection/requests/?rejected=true', me.token);
    assertExactJson(rejected, [NAMES[0]!]);

    for (const sender of senders.slice(1)) await ok(world.act(me.token, sender.id, 'accept'));
    const connections = await rawGet(`/api/v2/user/${me.id}/connections/`, senders[1]!.token);
    assertExactJson(connections, NAMES.slice(1));
    assert.deepEqual(
      JSON.parse(connections.text)
        .results.map((u: { real_name: string }) => u.real_name)
        .sort(),
      NAMES.slice(1).sort(),
    );
  });

  test('pages answered at once each keep their own bytes (PostgreSQL: pooled buffers), and a link too long for the room before the items is sent whole', async () => {
    const members = [];
    for (let i = 0; i < 6; i++) {
      const me = await world.user({ real_name: `Reader ${i} ü` });
      for (let k = 0; k < 3; k++) {
        const sender = await world.user({ real_name: `Sender ${i}.${k} ß 😀`, location: `Place ${i}.${k} ñ` });
        await ok(world.act(sender.token, me.id, 'request'));
      }
      members.push(me);
    }
    const path = '/api/v2/user/connection/requests/?limit=2';
    const alone: Buffer[] = [];
    for (const me of members) alone.push((await rawGet(path, me.token)).bytes);
    for (let round = 0; round < 5; round++) {
      const together = await Promise.all(members.map((me) => rawGet(path, me.token)));
      together.forEach((page, i) => {
        assert.deepEqual(page.bytes, alone[i], `round ${round}: member ${i}'s page is the one read alone`);
      });
    }
    for (const [i, page] of alone.entries()) {
      assert.match(page.toString(), new RegExp(`Sender ${i}\\.2 ß`));
    }

    // Parameters kith does not know are kept in the links: 1,500 of them make a head longer than the
    // room the pooled buffer leaves before the items.
    const long = await rawGet(`${path}&note=${'n'.repeat(1500)}`, members[0]!.token);
    assertExactJson(long, ['Sender 0.2 ß 😀', 'Sender 0.1 ß 😀']);
    assert.ok(JSON.parse(long.text).next.includes('n'.repeat(1500)));
    assert.deepEqual(JSON.parse(long.text).results, JSON.parse(alone[0]!.toString()).results);
  });

  test('an empty page is exact JSON too', async () => {
    const me = await world.user({ real_name: 'Nobody 😶' });
    const page = await rawGet('/api/v2/user/connection/requests/', me.token);
    assertExactJson(page, []);
    assert.deepEqual(JSON.parse(page.text), { count: 0, next: null, previous: null, results: [] });
  });
});
