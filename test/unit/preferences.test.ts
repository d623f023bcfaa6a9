import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coercePreference, PREFERENCES } from '../../src/domain/preferences.js';
import { MAX_LIMIT } from '../../src/http/pagination.js';

test('every stored default is a value its own PATCH would accept', () => {
  for (const definition of PREFERENCES.filter((p) => !p.derived)) {
    const coerced = coercePreference(definition, definition.default);
    assert.deepEqual(coerced, { ok: true, value: definition.default }, `${definition.section}.${definition.name}`);
  }
});

test('ids and names are unique, and the catalogue fits on the one page the provider reads', () => {
  assert.equal(new Set(PREFERENCES.map((p) => p.id)).size, PREFERENCES.length);
  assert.equal(new Set(PREFERENCES.map((p) => p.name)).size, PREFERENCES.length);
  assert.ok(PREFERENCES.length <= MAX_LIMIT, `${PREFERENCES.length} preferences, pages of at most ${MAX_LIMIT}`);
});
