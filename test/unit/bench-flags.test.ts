import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// `npm run bench -- …` reads its flags before it touches a database or builds anything.
const bench = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: '' },
  });

test('--help prints the flags and exits 0, without DATABASE_URL', () => {
  const run = bench('--help');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^Usage: DATABASE_URL=/);
  for (const flag of ['--cases', '--dataset', '--out', '--skip-build']) assert.ok(run.stdout.includes(flag), flag);
});

test('an unknown flag is named, with the usage, exit 2', () => {
  const run = bench('--bogus');
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^bench: Unknown option '--bogus'/);
  assert.match(run.stderr, /Usage:/);
});
