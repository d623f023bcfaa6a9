import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, type Member, ok, World } from '../helpers/world.js';

// Free re-reads (http/etag.ts, migration 0016): every list and user answer carries a strong ETag and
// `Cache-Control: private, no-cache`; If-None-Match with that tag answers 304 without a body — and
// never when the answer has changed since the tag was taken (the staleness test below).

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const conditional = (path: string, token: string | null, tag: string) =>
  world.request('GET', path, { token, headers: { 'if-none-match': tag } });

/** Every tagged read a member may make about themself and about `others` (friendship or follow mode). */
function readsOf(viewer: Member, others: Member[], mode: 'friendship' | 'follow'): Array<[string, string]> {
  const own =
    mode === 'friendship'
      ? [
          '/api/v2/user/connection/requests/',
          '/api/v2/user/connection_requests/?limit=5',
          '/api/v2/user/connection/requests/?rejected=true',
          '/api/v2/user/connection/requests_sent/',
        ]
      : [];
  const paths = [...own, '/api/v2/user/me/', '/api/v2/user/hidden_users/', '/api/v2/user/?limit=100'];
  for (const other of others) {
    if (mode === 'friendship') {
      paths.push(`/api/v2/user/${other.id}/connections/`, `/api/v2/user/${other.id}/connections/?mutual=1`);
    } else {
      paths.push(`/api/v2/user/${other.id}/followers/`, `/api/v2/user/${other.id}/followings/?mutual=0`);
    }
    paths.push(`/api/v2/user/${other.id}/`);
    if (other.id !== viewer.id) paths.push(`/api/v2/user/${other.id}/connection_status/`);
  }
  return paths.map((path) => [viewer.token, path]);
}

describe('headers', () => {
  test('every list and user answer carries a strong ETag and Cache-Control: private, no-cache', async () => {
    const [me, them] = [await world.user(), await world.user()];
    await ok(world.act(them.token, me.id, 'request'));
    const paths = readsOf(me, [me, them], 'friendship').map(([, path]) => path);
    for (const path of paths) {
      const response = await ok(world.get(path, me.token));
      const tag = response.headers.get('etag');
      assert.match(tag ?? '', /^"[A-Za-z0-9_-]{27}"$/, `${path}: a strong ETag`);
      assert.equal(response.headers.get('cache-control'), 'private, no-cache', path);
    }
    // Anonymous readers of the public routes get them too.
    for (const path of [`/api/v2/user/${them.id}/connections/`, `/api/v2/user/${them.id}/`]) {
      const response = await ok(world.get(path, null));
      assert.ok(response.headers.get('etag'), path);
    }
  });

  test('If-None-Match with the tag: 304, no body, the same tag; after a change: 200 with a new tag', async () => {
    const [me, them] = [await world.user(), await world.user()];
    const path = '/api/v2/user/connection/requests/';
    const first = await ok(world.get(path, me.token));
    const tag = first.headers.get('etag')!;

    const again = await conditional(path, me.token, tag);
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers.get('etag'), tag);
    assert.equal(again.headers.get('cache-control'), 'private, no-cache');
    // A list of tags, a weak form of it and `*` match too (RFC 9110's weak comparison for If-None-Match).
    assert.equal((await conditional(path, me.token, `"other", W/${tag}`)).status, 304);
    assert.equal((await conditional(path, me.token, '*')).status, 304);
    assert.equal((await conditional(path, me.token, '"other"')).status, 200);

    await ok(world.act(them.token, me.id, 'request'));
    const changed = await conditional(path, me.token, tag);
    assert.equal(changed.status, 200);
    assert.equal(changed.body.count, 1);
    const newTag = changed.headers.get('etag')!;
    assert.notEqual(newTag, tag);
    assert.equal((await conditional(path, me.token, newTag)).status, 304);
  });

  test('the tag is the viewer’s: another member with the same tag gets the page', async () => {
    const [a, b, c] = [await world.user(), await world.user(), await world.user()];
    const path = `/api/v2/user/${c.id}/connections/`;
    const tag = (await ok(world.get(path, a.token))).headers.get('etag')!;
    assert.equal((await conditional(path, a.token, tag)).status, 304);
    assert.equal((await conditional(path, b.token, tag)).status, 200);
    assert.equal((await conditional(path, null, tag)).status, 200);
  });

  test('a conditional request is still gated: 401 without a token, 404 for a missing member', async () => {
    const me = await world.user();
    const path = '/api/v2/user/connection/requests/';
    const tag = (await ok(world.get(path, me.token))).headers.get('etag')!;
    assert.equal((await conditional(path, null, tag)).status, 401);
    assert.equal((await conditional('/api/v2/user/999999/connections/', me.token, tag)).status, 404);
  });
});

test('the OpenAPI document shows If-None-Match, the ETag and the 304 on exactly the tagged routes', async () => {
  const document = (await ok(world.get('/api/v2/openapi.json'))).body;
  const tagged: string[] = [];
  for (const [path, operations] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      if (!operation.responses?.['304']) continue;
      tagged.push(`${method.toUpperCase()} ${path}`);
      assert.ok(operation.responses['200'].headers.ETag, path);
      assert.ok(
        operation.parameters.some((p: { in: string; name: string }) => p.in === 'header' && p.name === 'if-none-match'),
        path,
      );
    }
  }
  assert.deepEqual(tagged.sort(), [
    'GET /api/v2/user/',
    'GET /api/v2/user/connection/requests/',
    'GET /api/v2/user/connection/requests_sent/',
    'GET /api/v2/user/connection_requests/',
    'GET /api/v2/user/hidden_users/',
    'GET /api/v2/user/me/',
    'GET /api/v2/user/{id}/',
    'GET /api/v2/user/{id}/connection_status/',
    'GET /api/v2/user/{id}/connections/',
    'GET /api/v2/user/{id}/followers/',
    'GET /api/v2/user/{id}/followings/',
  ]);
});

/** A read's answer as the tag was taken: its status, body and tag. */
interface Snapshot {
  token: string;
  path: string;
  status: number;
  text: string;
  tag: string | null;
}

async function snapshot(token: string, path: string): Promise<Snapshot> {
  const response: ApiResponse = await world.get(path, token);
  return { token, path, status: response.status, text: response.text, tag: response.headers.get('etag') };
}

/**
 * The staleness check: after `action`, each read is asked again with the tag it had before, then
 * unconditionally. A 304 is only allowed when the unconditional answer is the one the tag was taken
 * from. Returns how many reads changed (so a caller can see the action was seen at all).
 */
async function checkAfter(label: string, reads: Array<[string, string]>, action: () => Promise<unknown>) {
  const before = await Promise.all(reads.map(([token, path]) => snapshot(token, path)));
  await action();
  let changed = 0;
  let notModified = 0;
  for (const old of before) {
    if (old.status !== 200 || old.tag === null) continue;
    const revalidated = await conditional(old.path, old.token, old.tag);
    const now = await snapshot(old.token, old.path);
    const same = now.status === 200 && now.text === old.text;
    if (!same) changed++;
    if (revalidated.status === 304) {
      notModified++;
      assert.ok(
        same,
        `${label}: ${old.path} answered 304 but changed (${now.status}):\nwas ${old.text}\nnow ${now.text}`,
      );
    } else if (same) {
      assert.equal(revalidated.status, 200, `${label}: ${old.path}`);
    }
  }
  return { changed, notModified };
}

describe('no change is hidden behind a stale 304', () => {
  test('every action from both sides, every list of both members and of a neighbour', async () => {
    const a = await world.user();
    const b = await world.user();
    const c = await world.user(); // B's connection: C's lists contain B
    const d = await world.user(); // A's connection: D's lists contain A
    await ok(world.act(c.token, b.id, 'request'));
    await ok(world.act(b.token, c.id, 'accept'));
    await ok(world.act(d.token, a.id, 'request'));
    await ok(world.act(a.token, d.id, 'accept'));
    const everyone = [a, b, c, d];
    const reads = (mode: 'friendship' | 'follow') => everyone.flatMap((viewer) => readsOf(viewer, everyone, mode));

    let changes = 0;
    let notModified = 0;
    const check = async (
      label: string,
      action: () => Promise<unknown>,
      mode: 'friendship' | 'follow' = 'friendship',
    ) => {
      const result = await checkAfter(label, reads(mode), action);
      assert.ok(result.changed > 0, `${label}: the action changed some read`);
      changes += result.changed;
      notModified += result.notModified;
    };
    const act = (who: Member, them: Member, action: string) => async () =>
      ok(world.act(who.token, them.id, action), action === 'mark_seen' ? 204 : 200);
    const hide = (who: Member, them: Member) => async () =>
      ok(
        world.request('POST', `/api/v2/user/${them.id}/hide/`, {
          token: who.token,
          raw: '',
          headers: { 'content-type': 'application/json' },
        }),
        204,
      );
    const follow = (who: Member, them: Member) => async () =>
      ok(
        world.request('POST', `/api/v2/user/${them.id}/follow/`, {
          token: who.token,
          raw: '',
          headers: { 'content-type': 'application/json' },
        }),
        204,
      );
    const moderate = (who: Member, status: 'a' | 'b') => async () =>
      ok(world.request('PATCH', `/api/v2/moderation/user/${who.id}/`, { token: admin, body: { status } }));
    const profile = (who: Member, bio: string) => async () =>
      ok(world.request('PATCH', `/api/v2/user/${who.id}/`, { token: who.token, body: { bio } }));

    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const side = `${x === a ? 'A' : 'B'} acts`;
      await check(`${side}: request`, act(x, y, 'request'));
      await check(`${side}: cancel`, act(x, y, 'cancel_request'));
      await check(`${side}: request again`, act(x, y, 'request'));
      await check(`${side}: marked seen`, act(y, x, 'mark_seen'));
      await check(`${side}: rejected`, act(y, x, 'reject'));
      await check(`${side}: rejection undone`, act(y, x, 'cancel_reject'));
      await check(`${side}: rejected again`, act(y, x, 'reject'));
      await check(`${side}: a rejected request cancelled`, act(x, y, 'cancel_request'));
      await check(`${side}: request, to be hidden`, act(x, y, 'request'));
      await check(`${side}: hidden by the other (request withheld)`, hide(y, x));
      await check(`${side}: shown again`, hide(y, x));
      await check(`${side}: accepted`, act(y, x, 'accept'));
      await check(`${side}: profile change (seen in every list holding them)`, profile(x, `bio ${side}`));
      await check(`${side}: removed`, act(x, y, 'remove'));
      await check(`${side}: hide with no request`, hide(x, y));
      await check(`${side}: unhide`, hide(x, y));
      await check(`${side}: connected again`, async () => {
        await act(x, y, 'request')();
        await act(y, x, 'accept')();
      });
      await check(`${side}: blocked by an admin`, moderate(x, 'b'));
      await check(`${side}: unblocked`, async () => {
        await moderate(x, 'a')();
        // Tokens issued before the block stay refused: the member signs in again.
        x.token = await world.tokenFor(x.id);
      });
      await check(`${side}: back to friends with the other`, async () => {
        await act(x, y, 'request')();
        await act(y, x, 'accept')();
      });
      await check(`${side}: the community switches to follow mode`, () =>
        world.setPreferences({ follow_enabled: true }),
      );
      await check(`${side}: follow`, follow(x, y), 'follow');
      await check(`${side}: followed back`, follow(y, x), 'follow');
      await check(`${side}: the neighbour follows`, follow(x === a ? c : d, x), 'follow');
      await check(`${side}: unfollow`, follow(x, y), 'follow');
      await check(`${side}: profile change in follow mode`, profile(y, `bio in follow mode ${side}`), 'follow');
      await check(`${side}: back to friendship mode`, () => world.setPreferences({ follow_enabled: false }), 'follow');
      await check(`${side}: removed for the next round`, act(y, x, 'remove'));
    }
    // Reads that did not change were answered 304: the tags are not merely always new.
    assert.ok(notModified > changes, `304s: ${notModified}, changed reads: ${changes}`);
    // Many of them from the tag cache (http/tag-cache.ts): its invalidation is under test here too.
    const hits = world.app.tagCache?.counters.hits ?? 0;
    assert.ok(hits > notModified / 4, `304s: ${notModified}, answered from remembered tags: ${hits}`);
  });
});
