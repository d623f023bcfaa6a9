import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { readSettings } from '../../bench/flags.js';

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
  for (const flag of ['--cases', '--dataset', '--out', '--skip-build', '--paired', '--rounds']) {
    assert.ok(run.stdout.includes(flag), flag);
  }
});

test('an unknown flag is named, with the usage, exit 2', () => {
  const run = bench('--bogus');
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^bench: Unknown option '--bogus'/);
  assert.match(run.stderr, /Usage:/);
});

const URL_1M = 'postgres://postgres@127.0.0.1:5432/kith_1m';
const URL_300K = 'postgres://postgres@127.0.0.1:5432/kith_bench';

test('--paired names the other database and its size (300k unless told)', () => {
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = URL_1M;
  try {
    const settings = readSettings(['--dataset', '1m', '--paired', URL_300K]);
    assert.deepEqual(settings.paired, { databaseUrl: URL_300K, dataset: '300k' });
    assert.equal(settings.compare, null);
    const other = readSettings(['--paired', URL_1M.replace('kith_1m', 'other'), '--paired-dataset', '1m']);
    assert.equal(other.paired?.dataset, '1m');
    assert.equal(readSettings([]).paired, null);
    assert.equal(readSettings([]).rounds, 1);
    assert.equal(readSettings(['--rounds', '3']).rounds, 3);
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
});

// The bench exits before it touches a database when its flags contradict each other.
for (const [args, message] of [
  [['--paired', URL_300K, '--compare', 'base'], /--paired and --compare/],
  [['--paired', URL_1M], /--paired names DATABASE_URL itself/],
  [['--paired', URL_300K, '--paired-dataset', '2m'], /--paired-dataset is one of 300k, 1m/],
  [['--rounds', '0'], /--rounds is a positive integer, not 0/],
] as const) {
  test(`bench ${args.join(' ')} exits with status 2`, () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      env: { ...process.env, DATABASE_URL: URL_1M },
      encoding: 'utf8',
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, message);
  });
}
