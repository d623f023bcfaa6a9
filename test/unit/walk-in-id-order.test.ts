import assert from 'node:assert/strict';
import { test } from 'node:test';
import { walkInIdOrder } from '../../src/db/repositories/people.js';

// Two samples of 100 folded names each, as ANALYZE keeps them for the two name indexes: every
// username has "member", a tenth of the real names "maria", one real name "zoltan".
const names = [
  ...Array.from({ length: 100 }, (_, i) => `member_${i * 7919}`),
  ...Array.from({ length: 89 }, (_, i) => `member ${i * 7919}`),
  ...Array.from({ length: 10 }, (_, i) => `maria ${i}`),
  'zoltan kodaly',
];

test('a term most names contain is found by walking the members in id order', () => {
  const sample = { names, members: 1_000_000 };
  assert.equal(walkInIdOrder('member', sample), true);
  assert.equal(walkInIdOrder('MÉMBER', sample), true, 'folded as kith_fold folds');
  assert.equal(walkInIdOrder('maria', sample), true, 'a tenth of the members: above the 2% a million gives');
  assert.equal(walkInIdOrder('me', sample), true, 'a short term: names starting with it');
});

test('a term few or no sampled names contain is found by the name indexes', () => {
  const sample = { names, members: 1_000_000 };
  assert.equal(walkInIdOrder('37281', sample), false, 'in no sampled name: the planner would guess 1% and walk');
  assert.equal(walkInIdOrder('zoltan', sample), false, 'one name in 200: below the 2% a million gives');
  assert.equal(walkInIdOrder('zo', sample), false);
  assert.equal(walkInIdOrder('ko', sample), false, 'a short term matches the start of a name only');
});

test('the share that makes a walk cheaper falls as the community grows', () => {
  // "maria": a tenth of the members. √(1000 / 2n) = 10% at n = 50,000.
  assert.equal(walkInIdOrder('maria', { names, members: 40_000 }), false);
  assert.equal(walkInIdOrder('maria', { names, members: 60_000 }), true);
});

test('no sample: the planner chooses; under 500 members the indexes always', () => {
  assert.equal(walkInIdOrder('37281', { names: [], members: 1_000_000 }), null);
  assert.equal(walkInIdOrder('member', { names, members: 499 }), false);
  assert.equal(walkInIdOrder('member', { names, members: 500 }), true);
});
