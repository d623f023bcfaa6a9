import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distinctivePart } from '../../src/db/repositories/people.js';

// A sample of folded names as ANALYZE keeps them: "member" in all, "maria" in a tenth.
const sample = [
  ...Array.from({ length: 90 }, (_, i) => `member_${i * 7919}`),
  ...Array.from({ length: 10 }, (_, i) => `maria_${i}`),
];

test('leading and trailing common words are left out, the separators next to the rest kept', () => {
  assert.equal(distinctivePart('member_1234', sample), '_1234');
  assert.equal(distinctivePart('ember_99', sample), '_99', 'part of a common word is common too');
  assert.equal(distinctivePart('12_member', sample), '12_');
  assert.equal(distinctivePart('Member 12 member', sample), ' 12 ');
  assert.equal(distinctivePart('MÉMBER_qz', sample), '_qz', 'folded as kith_fold folds');
  assert.equal(
    distinctivePart('member_7', sample),
    'member_7',
    'a digit is in a fifth of these names: nothing would remain',
  );
});

test('a term of common words only, or without any, is asked whole', () => {
  assert.equal(distinctivePart('member', sample), 'member');
  assert.equal(distinctivePart('member_mem', sample), 'member_mem');
  assert.equal(distinctivePart('maria_rossi', sample), 'maria_rossi', 'a tenth of the names is not common');
  assert.equal(distinctivePart('member_1234', []), 'member_1234', 'no histogram, no common words');
  assert.equal(distinctivePart('__', sample), '__');
});
