import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { embeddedEnv, freePort, runSource, SERVER_SCRIPT } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

// What an operator can get wrong at start: each is one line `kith: …` on stderr and exit 1, no stack.

const tempDir = tempDirs('kith-start-');

async function startFails(env: Record<string, string>, dataDir = join(tempDir(), 'data')) {
  const result = await runSource(SERVER_SCRIPT, [], {
    ...embeddedEnv(dataDir),
    PORT: String(await freePort()),
    ...env,
  });
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+/, 'no stack trace');
  return result.stderr;
}

test('HOST that names no host', async () => {
  const line = await startFails({ HOST: 'not-a-host.invalid' });
  assert.equal(
    line,
    'kith: cannot listen on HOST=not-a-host.invalid: no such host (use an address of this machine, such as 127.0.0.1 or 0.0.0.0)\n',
  );
});

test('a port already in use', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as { port: number };
  try {
    const line = await startFails({ PORT: String(port) });
    assert.equal(
      line,
      `kith: cannot listen on 127.0.0.1:${port}: the port is in use by another process (choose another PORT, or stop it)\n`,
    );
  } finally {
    taken.close();
  }
});

test('KITH_DATA_DIR naming a file, or a path through a file', async () => {
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, '');
  assert.equal(
    await startFails({}, file),
    `kith: KITH_DATA_DIR ${file} is not a directory kith can write to (EEXIST)\n`,
  );
  // With JWT_SECRET set no secret file is written: the database is the first to find out.
  const below = join(file, 'data');
  assert.match(
    await startFails({ JWT_SECRET: 'a-secret-that-is-long-enough-0123456789' }, below),
    new RegExp(`^kith: cannot open the database: ENOTDIR: not a directory, mkdir '${below}'\n$`),
  );
});
