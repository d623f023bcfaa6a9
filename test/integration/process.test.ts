import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function baseEnv(dataDir: string) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    KITH_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
  };
  delete env.DATABASE_URL; // the embedded database: the command a new user runs
  delete env.JWT_SECRET;
  return env;
}

async function startServer(dataDir: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...baseEnv(dataDir), PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { url, stop };
}

test('the embedded server starts, keeps its data and secret, and exits 0 on SIGTERM', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kith-proc-'));
  const first = await startServer(dataDir);
  assert.equal((await fetch(`${first.url}/healthz`)).status, 200);
  const admin = await (await fetch(`${first.url}/api/v2/user/1/`)).json();
  assert.equal(admin.username, 'admin');
  assert.equal(statSync(join(dataDir, 'jwt-secret')).mode & 0o777, 0o600);

  // `kith token` needs only the secret, so it works while the server runs.
  const token = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'token', '--user-id', '1'], {
    env: baseEnv(dataDir),
    encoding: 'utf8',
  });
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

test('a bad variable stops the server with one line naming it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kith-bad-'));
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...baseEnv(dataDir), PORT: 'eighty' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 1);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /PORT must be an integer/);
});
