import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { distProblem } from '../../bin/dist-check.js';
import { embeddedEnv, freePort } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

// `npm start` as an operator runs it: npm, a shell, node bin/start.js, dist/main.js. npm does not pass
// SIGTERM on to the server; the server notices its parent has gone and stops as it does on SIGTERM.
// It runs the built dist/: built here first when src/ is newer (CI's install has just built it).

const tempDir = tempDirs('kith-npm-start-');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, withinMs: number, done: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + withinMs;
  while (!(await done())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('SIGTERM to the npm start process stops the server gracefully', { timeout: 180_000 }, async () => {
  if (distProblem()) {
    const build = spawn('npm', ['run', 'build'], { stdio: 'inherit' });
    assert.equal(await new Promise((resolve) => build.once('exit', resolve)), 0, 'npm run build');
  }
  const dataDir = tempDir();
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    env: { ...embeddedEnv(dataDir), PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.on('data', (chunk) => {
    output += chunk;
  });
  npm.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const npmExited = new Promise((resolve) => npm.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  let serverPid: number | undefined;
  try {
    await until(
      '/readyz 200',
      90_000,
      async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    );
    const listening = output.split('\n').find((line) => line.includes('"kith listening'));
    serverPid = (JSON.parse(listening ?? '{}') as { pid?: number }).pid;
    assert.ok(serverPid && serverPid !== npm.pid, output);
    assert.ok(existsSync(join(dataDir, 'kith.lock')));

    npm.kill('SIGTERM');
    await npmExited;
    await until('the server process exiting', 10_000, () => !alive(serverPid as number));
    await assert.rejects(fetch(`${url}/healthz`), 'the port no longer answers');
    // Gracefully: it said so, and closed the embedded database (which removes its lock).
    assert.match(output, /"signal":"parent exited","msg":"shutting down/);
    assert.equal(existsSync(join(dataDir, 'kith.lock')), false, output);
  } finally {
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    // A server left running (the failure this test is about) is stopped here, not left to the machine.
    if (serverPid && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
  }
});

test('a server started any other way outlives the shell that started it (nohup, &)', { timeout: 120_000 }, async () => {
  if (distProblem()) {
    const build = spawn('npm', ['run', 'build'], { stdio: 'inherit' });
    assert.equal(await new Promise((resolve) => build.once('exit', resolve)), 0, 'npm run build');
  }
  const port = await freePort();
  // The shell starts the server in the background, prints its pid, and exits while the server starts.
  const shell = spawn('sh', ['-c', 'node dist/main.js >/dev/null 2>&1 & echo $!; sleep 2'], {
    env: { ...embeddedEnv(tempDir()), PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let printed = '';
  const shellExited = new Promise((resolve) => shell.once('exit', resolve));
  await new Promise<void>((resolve) =>
    shell.stdout.on('data', (chunk) => {
      printed += chunk;
      resolve();
    }),
  );
  const serverPid = Number(printed.trim());
  await shellExited;
  assert.ok(serverPid > 0, printed);
  try {
    const url = `http://127.0.0.1:${port}`;
    await until(
      '/readyz 200',
      90_000,
      async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    );
    // Its parent is long gone; it still serves a while later.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.ok(alive(serverPid));
  } finally {
    process.kill(serverPid, 'SIGTERM');
    await until('the server to exit', 15_000, () => !alive(serverPid));
  }
});
