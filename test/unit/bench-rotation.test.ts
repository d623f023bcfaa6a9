import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFERENCE_MEMBERS, rotationIds, rotationOf } from '../../bench/dataset.js';

test('at 300k and below the rotation is members 2–1001, contiguous', () => {
  for (const members of [50_000, REFERENCE_MEMBERS]) {
    const ids = rotationIds(rotationOf(members, 1000));
    assert.deepEqual(
      ids,
      Array.from({ length: 1000 }, (_, k) => 2 + k),
    );
  }
});

test('at 1m the rotation spreads over the same fraction of the ids, each member once', () => {
  const members = 1_000_000;
  const ids = rotationIds(rotationOf(members, 1000));
  assert.equal(ids.length, 1000);
  assert.equal(new Set(ids).size, 1000);
  assert.equal(ids[0], 2);
  assert.equal(ids.at(-1), 2 + Math.floor((999 * 10) / 3));
  for (let k = 1; k < ids.length; k++) {
    assert.ok(ids[k]! > ids[k - 1]!, `ids increase at ${k}`);
    // The k-th member sits at the same fraction of the community as the k-th at 300k (within one id).
    assert.ok(Math.abs((ids[k]! - 2) / members - k / REFERENCE_MEMBERS) < 1 / members, `fraction at ${k}`);
  }
});
