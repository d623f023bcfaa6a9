import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The import rules of docs/architecture.md: the layer of a file, and the layers it may import. */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const ALLOWED: Record<string, string[]> = {
  domain: ['domain'],
  contracts: ['domain', 'contracts'],
  db: ['domain', 'contracts', 'db'],
  services: ['domain', 'contracts', 'db', 'events', 'services', 'webhooks', 'config'],
  events: ['domain', 'contracts', 'db', 'events'],
  realtime: ['domain', 'contracts', 'db', 'events', 'services', 'realtime', 'config'],
  webhooks: ['domain', 'contracts', 'db', 'events', 'services', 'webhooks', 'config', 'backoff'],
  cli: ['domain', 'contracts', 'db', 'events', 'services', 'webhooks', 'config', 'bootstrap', 'cli'],
  http: ['domain', 'contracts', 'db', 'events', 'services', 'webhooks', 'realtime', 'config', 'http'],
};

function layerOf(path: string): string {
  const parts = relative(SRC, path)
    .replace(/\.(ts|js)$/, '')
    .split('/');
  if (parts[0] === 'db' && parts[1] === 'schema') return 'db/schema';
  return parts[0]!;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

test('every import follows the layer rules of docs/architecture.md', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) continue; // top-level entry files (main, app, bootstrap, config) wire everything
    for (const match of readFileSync(file, 'utf8').matchAll(/^import[^;]*?from '(\.[^']+)';/gms)) {
      const target = layerOf(resolve(dirname(file), match[1]!));
      // The table types, the pure back-off helper and the version are for everyone.
      if (target === from || target === 'db/schema' || target === 'backoff' || target === 'version') continue;
      if (!allowed.includes(target)) violations.push(`${relative(SRC, file)} imports ${match[1]} (${target})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the layer rules can catch a violation', () => {
  // A file of the domain importing a repository is a violation by the table above.
  assert.ok(!ALLOWED.domain!.includes(layerOf(join(SRC, 'db/repositories/users.ts'))));
  assert.equal(layerOf(join(SRC, 'db/schema.ts')), 'db/schema');
  assert.ok(!ALLOWED.contracts!.includes(layerOf(join(SRC, 'db/repositories/users.ts'))));
});
