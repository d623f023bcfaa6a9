import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { distProblem } from '../../bin/dist-check.js';
import { tempDirs } from '../helpers/temp.js';

const tempDir = tempDirs('kith-dist-');

/** A package root with the given files, each modified at the given second. */
function root(files: Record<string, number>): string {
  const dir = tempDir();
  for (const [path, second] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), '');
    utimesSync(join(dir, path), second, second);
  }
  return dir;
}

test('no dist/: missing', () => {
  assert.equal(distProblem(root({ 'src/main.ts': 100 })), 'dist/ is missing');
  assert.equal(distProblem(root({ 'src/main.ts': 100, 'dist/main.js.map': 200 })), 'dist/ is missing');
});

test('a source newer than every built file: older, naming the source', () => {
  assert.equal(
    distProblem(root({ 'src/main.ts': 100, 'src/http/routes/health.ts': 300, 'dist/main.js': 200 })),
    'dist/ is older than src/ (src/http/routes/health.ts changed since the last build)',
  );
});

test('built after the last change of src/, or no src/ at all (an installed package): fresh', () => {
  assert.equal(distProblem(root({ 'src/main.ts': 100, 'src/db/x.ts': 150, 'dist/db/x.js': 200 })), undefined);
  assert.equal(distProblem(root({ 'dist/main.js': 200 })), undefined);
});
