import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderings, parseOrdering } from '../../src/domain/ordering.js';
import { isRole, isSelfOrAdmin, isUsername } from '../../src/domain/users.js';

test('orderings lists each field ascending then descending; parseOrdering reads them back', () => {
  assert.deepEqual(orderings(['id', 'name']), ['id', '-id', 'name', '-name']);
  assert.deepEqual(parseOrdering('created_at'), { column: 'created_at', descending: false });
  assert.deepEqual(parseOrdering('-created_at'), { column: 'created_at', descending: true });
  // Only the leading dash means descending.
  assert.deepEqual(parseOrdering<'a-b'>('-a-b'), { column: 'a-b', descending: true });
});

test('the username rule: letters, digits, _ and -, 1 to 255 of them', () => {
  for (const good of ['a', 'Ann_1', 'x-y', 'z'.repeat(255)]) assert.equal(isUsername(good), true, good);
  for (const bad of ['', 'a b', 'ann@x', 'é', 'z'.repeat(256)]) assert.equal(isUsername(bad), false, bad);
});

test('roles and who may act on a member’s own things', () => {
  assert.equal(isRole('moderator'), true);
  assert.equal(isRole('owner'), false);
  assert.equal(isSelfOrAdmin({ id: 3, role: null }, 3), true);
  assert.equal(isSelfOrAdmin({ id: 4, role: 'admin' }, 3), true);
  assert.equal(isSelfOrAdmin({ id: 4, role: 'moderator' }, 3), false);
  assert.equal(isSelfOrAdmin(null, 3), false);
});
