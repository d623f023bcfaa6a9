import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { embeddedEnv, runCli } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

// `kith token` as a real process: which secret it signs with, said on stderr; none guessed in production.

const tempDir = tempDirs('kith-token-');
const FROM_ENV = 'a-secret-from-the-environment-0123456789';
const FROM_FILE = 'a-secret-from-the-env-file-0123456789abcdef';

test('kith token names the secret it used: the data directory file, JWT_SECRET, or JWT_SECRET from an env file', async () => {
  const dataDir = tempDir();
  const secretFile = join(dataDir, 'jwt-secret');
  writeFileSync(secretFile, 'the-secret-the-server-generated-0123456789\n');
  const envFile = join(tempDir(), 'kith.env');
  writeFileSync(envFile, `JWT_SECRET=${FROM_FILE}\n`);

  const [fromDir, fromEnv, fromEnvFile, envWins] = await Promise.all([
    runCli(['token', '--user-id', '7'], embeddedEnv(dataDir)),
    runCli(['token', '--user-id', '7'], { ...embeddedEnv(dataDir), JWT_SECRET: FROM_ENV }),
    runCli(['token', '--user-id', '7'], embeddedEnv(dataDir, { KITH_ENV_FILE: envFile })),
    runCli(['token', '--user-id', '7'], { ...embeddedEnv(dataDir, { KITH_ENV_FILE: envFile }), JWT_SECRET: FROM_ENV }),
  ]);
  for (const run of [fromDir, fromEnv, fromEnvFile, envWins]) {
    assert.equal(run.status, 0, run.stderr);
    assert.equal(decodeJwt(run.stdout.trim()).user_id, 7);
  }
  assert.equal(fromDir.stderr, `kith token: signed with the file ${secretFile}\n`);
  assert.equal(fromEnv.stderr, 'kith token: signed with JWT_SECRET from the environment\n');
  assert.equal(fromEnvFile.stderr, `kith token: signed with JWT_SECRET from ${envFile}\n`);
  assert.equal(envWins.stderr, 'kith token: signed with JWT_SECRET from the environment\n');
});

test('with NODE_ENV=production and no JWT_SECRET, kith token refuses the secret file: one line, exit 1', async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'jwt-secret'), 'the-secret-the-server-generated-0123456789\n');
  const run = await runCli(['token', '--user-id', '1'], embeddedEnv(dataDir, { NODE_ENV: 'production' }));
  assert.equal(run.status, 1);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, 'kith: invalid configuration: JWT_SECRET is required when NODE_ENV=production\n');
});
