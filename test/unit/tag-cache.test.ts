import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TagCache } from '../../src/http/tag-cache.js';

/** A barrier that says what the test tells it (the real one is db/version-feed.ts, tested in integration). */
function barrier(caughtUp = true) {
  return { isLive: true, caughtUp: async () => caughtUp };
}

const deps = (members: number[], notBefore = 0) => ({ members, notBefore });

test('a remembered tag is current until one of its members changes', async () => {
  const cache = new TagCache(barrier(), 100);
  cache.remember('a', cache.now, '"t"', deps([1, 2, 3]));
  cache.remember('b', cache.now, '"u"', deps([4]));
  assert.equal(await cache.current('a', 0), '"t"');
  cache.changed([9]);
  assert.equal(await cache.current('a', 0), '"t"', 'another member');
  cache.changed([2]);
  assert.equal(await cache.current('a', 0), undefined);
  assert.equal(await cache.current('b', 0), '"u"');
  cache.changed('all');
  assert.equal(await cache.current('b', 0), undefined);
  assert.equal(cache.size, 0);
});

test('a tag read before a change of its members is heard after is not remembered', () => {
  const cache = new TagCache(barrier(), 100);
  const since = cache.now;
  cache.changed([2]); // heard while the request was reading
  cache.remember('a', since, '"t"', deps([1, 2]));
  assert.equal(cache.size, 0);
  cache.remember('b', since, '"t"', deps([1, 3]));
  assert.equal(cache.size, 1, 'other members: remembered');
  const later = cache.now;
  cache.changed('all');
  cache.remember('c', later, '"t"', deps([5]));
  assert.equal(cache.size, 0, 'after forgetting everything, nothing read before is remembered');
});

test('bounded: the oldest tag goes first, and forgotten change positions count as recent', async () => {
  const cache = new TagCache(barrier(), 2);
  for (const key of ['a', 'b', 'c']) cache.remember(key, cache.now, `"${key}"`, deps([1]));
  assert.equal(cache.size, 2);
  assert.equal(await cache.current('a', 0), undefined);
  assert.equal(await cache.current('c', 0), '"c"');

  const since = cache.now;
  cache.remember('e', since, '"e"', deps([99]));
  // Change positions of 4 × 2 members are kept: the ninth forgets the first, so whether member 99
  // changed after `since` is no longer known.
  for (let id = 10; id < 18; id++) cache.changed([id]);
  cache.remember('d', since, '"d"', deps([99]));
  assert.equal(await cache.current('d', 0), '"d"', 'still known: 99 did not change');
  cache.changed([18]);
  assert.equal(await cache.current('d', 0), undefined);
  cache.remember('d', since, '"d"', deps([99]));
  assert.equal(await cache.current('d', 0), undefined, 'not remembered again');
  assert.equal(await cache.current('e', 0), undefined);
});

test('an older token, or a barrier that cannot catch up, never gets the remembered tag', async () => {
  const cache = new TagCache(barrier(), 10);
  cache.remember('a', cache.now, '"t"', deps([1], 1000));
  assert.equal(await cache.current('a', 999), undefined);
  assert.equal(await cache.current('a', 1000), '"t"');
  const down = new TagCache(barrier(false), 10);
  down.remember('a', down.now, '"t"', deps([1]));
  assert.equal(await down.current('a', 0), undefined);
  assert.deepEqual(down.counters, { hits: 0, misses: 1 });
});
