import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { embeddedEnv, runCli, runSource, SERVER_SCRIPT, ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp.js';

/** The embedded server on `dataDir`: the command a new user runs. */
const startServer = (dataDir: string) =>
  ServerProcess.spawn({ env: embeddedEnv(dataDir), readyWithinMs: 90_000, pollMs: 250 });

test('the embedded server starts, keeps its data and secret, and exits 0 on SIGTERM', async () => {
  const dataDir = tempDir('kith-proc-');
  const first = await startServer(dataDir);
  assert.equal((await fetch(`${first.url}/healthz`)).status, 200);
  const admin = await (await fetch(`${first.url}/api/v2/user/1/`)).json();
  assert.equal(admin.username, 'admin');
  assert.equal(statSync(join(dataDir, 'jwt-secret')).mode & 0o777, 0o600);

  // `kith token` needs only the secret, so it works while the server runs.
  const token = await runCli(['token', '--user-id', '1'], embeddedEnv(dataDir));
  assert.equal(token.status, 0, token.stderr);
  const me = await fetch(`${first.url}/api/v2/user/me/`, {
    headers: { authorization: `Bearer ${token.stdout.trim()}` },
  });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).role, 'admin');
  assert.equal(await first.stop(), 0);

  // Restarted on the same directory: same data, same secret (the old token still works).
  const again = await startServer(dataDir);
  const still = await fetch(`${again.url}/api/v2/user/me/`, {
    headers: { authorization: `Bearer ${token.stdout.trim()}` },
  });
  assert.equal(still.status, 200);
  assert.equal(await again.stop(), 0);
});

test('a bad variable stops the server with one line naming it', async () => {
  const dataDir = tempDir('kith-bad-');
  const result = await runSource(SERVER_SCRIPT, [], embeddedEnv(dataDir, { PORT: 'eighty' }));
  assert.equal(result.status, 1);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /PORT must be an integer/);
});
