import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddedEnv, runCli } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

const newDataDir = tempDirs('kith-seed-');

test('kith seed refuses NODE_ENV=production unless told, and a database with members unless --append', async () => {
  const dir = newDataDir();
  const production = { ...embeddedEnv(dir), NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) };
  const refused = await runCli(['seed', '--users', '5', '--quiet'], production);
  assert.equal(refused.status, 1, refused.stderr);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /refuses NODE_ENV=production.*--allow-production/);

  const env = embeddedEnv(dir);
  const first = await runCli(['seed', '--users', '5', '--celebrity-followers', '2', '--quiet'], env);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).users, 5);

  const again = await runCli(['seed', '--users', '5', '--celebrity-followers', '2', '--quiet'], env);
  assert.equal(again.status, 1, again.stderr);
  assert.match(again.stderr, /already holds 5 members.*--append/);

  const appended = await runCli(['seed', '--users', '4', '--celebrity-followers', '2', '--append'], env);
  assert.equal(appended.status, 0, appended.stderr);
  assert.equal(JSON.parse(appended.stdout).firstUserId, 7);
  // Not a terminal: one plain line per phase, no estimate.
  assert.match(appended.stderr, /^kith seed: users: [\d.]+ s$/m);
  assert.doesNotMatch(appended.stderr, /left\)/);
});
