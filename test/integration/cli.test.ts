import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

// Real processes: `node --import tsx src/main.ts` and `node --import tsx src/cli/index.ts`, on the
// embedded database whatever DATABASE_URL says, since the lock is about the embedded data directory.

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-cli-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

function env(dataDir: string, extra: Record<string, string> = {}) {
  const result: Record<string, string | undefined> = {
    ...process.env,
    KITH_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ...extra,
  };
  delete result.DATABASE_URL;
  delete result.JWT_SECRET;
  return result;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a node script to its end without blocking the event loop (so several can run at once). */
function run(script: string, args: string[], childEnv: Record<string, string | undefined>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

const kith = (dataDir: string, ...args: string[]) => run('src/cli/index.ts', args, env(dataDir));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Server {
  child: ChildProcess;
  pid: number;
  url: string;
}

async function startServer(dataDir: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: env(dataDir, { PORT: String(port) }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server did not start');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, pid: child.pid as number, url };
}

function stop(server: Server, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    server.child.once('exit', (code) => resolve(code));
    server.child.kill(signal);
  });
}

const inUse = (dataDir: string, pid: number) =>
  `kith: the embedded database in ${dataDir} is in use by process ${pid}; stop it, or use the HTTP API / DATABASE_URL\n`;

describe('arguments', () => {
  test('--version prints the package version', async () => {
    const result = await kith(tempDir(), '--version');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${packageVersion}\n`);
  });

  test('every command answers --help with its usage, exit 0, without touching the data directory', async () => {
    const dataDir = join(tempDir(), 'data');
    const cases = [
      ['migrate', '--help'],
      ['user', 'create', '--help'],
      ['user', '--help'],
      ['token', '--help'],
      ['worker', '--help'],
      ['seed', '-h'],
      ['help', 'seed'],
    ];
    const results = await Promise.all(cases.map((args) => kith(dataDir, ...args)));
    for (const [i, result] of results.entries()) {
      const args = cases[i] ?? [];
      const name = args[0] === 'help' ? args[1] : args[0];
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, new RegExp(`^Usage: kith ${name}`), args.join(' '));
    }
    // No secret, no database, not even the directory: --help read nothing and opened nothing.
    assert.equal(existsSync(dataDir), false);

    const overall = await kith(dataDir, '--help');
    assert.equal(overall.status, 0);
    for (const command of ['migrate', 'user create', 'token', 'worker', 'seed', '--version']) {
      assert.ok(overall.stdout.includes(command), command);
    }
  });

  test('an unknown argument is one line naming it, pointing at --help, and exit 1', async () => {
    const dataDir = join(tempDir(), 'data');
    const cases: [string[], string][] = [
      [['migrate', '--bogus'], "Unknown option '--bogus'; see kith migrate --help"],
      [['token', '--user-id', '1', 'extra'], "Unexpected argument 'extra'; see kith token --help"],
      [['user', 'create', '--username', 'a', '--nope'], "Unknown option '--nope'; see kith user --help"],
      [['user', 'create', 'extra', '--username', 'a'], 'unexpected argument "extra"; see kith user --help'],
      [['user', 'delete'], 'unknown subcommand "user delete"; see kith user --help'],
      [['seed', '--users', '3', '--quiet=yes'], "Option '--quiet' does not take an argument; see kith seed --help"],
      [['worker', 'now'], "Unexpected argument 'now'; see kith worker --help"],
      [['--version', 'now'], 'unexpected argument "now" after --version'],
      [['launch'], 'unknown command "launch"; see kith --help'],
    ];
    const results = await Promise.all(cases.map(([args]) => kith(dataDir, ...args)));
    for (const [i, result] of results.entries()) {
      const [args, line] = cases[i] ?? [[], ''];
      assert.equal(result.status, 1, args.join(' '));
      assert.equal(result.stderr, `kith: ${line}\n`);
      assert.equal(result.stdout, '');
    }
    assert.equal(existsSync(dataDir), false);
  });
});

describe('beside a running server on the embedded database', () => {
  test('data commands are refused with one line, token works, and nothing is lost', async () => {
    const dataDir = tempDir();
    const lockFile = join(dataDir, 'kith.lock');
    const server = await startServer(dataDir);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(server.pid));

    const [carol, migrate, token, secondServer] = await Promise.all([
      kith(dataDir, 'user', 'create', '--username', 'carol'),
      kith(dataDir, 'migrate'),
      kith(dataDir, 'token', '--user-id', '1'),
      run('src/main.ts', [], env(dataDir, { PORT: String(await freePort()) })),
    ]);
    for (const refused of [carol, migrate, secondServer]) {
      assert.equal(refused.status, 1);
      assert.equal(refused.stderr, inUse(dataDir, server.pid));
      assert.equal(refused.stdout, '');
    }
    assert.equal(token.status, 0, token.stderr);

    // carol was not written anywhere: the next member takes id 2.
    const admin = { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/json' };
    const dave = await fetch(`${server.url}/api/v2/sso/signup/`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ username: 'dave' }),
    });
    assert.equal(dave.status, 201);
    assert.equal((await dave.json()).id, 2);

    assert.equal(await stop(server, 'SIGTERM'), 0);
    assert.equal(existsSync(lockFile), false);

    const created = await kith(dataDir, 'user', 'create', '--username', 'carol');
    assert.equal(created.status, 0, created.stderr);
    const carolId = JSON.parse(created.stdout).id;
    assert.equal(carolId, 3);
    assert.equal(existsSync(lockFile), false);

    // The server started again sees carol; killed, it leaves a lock naming a dead process...
    const again = await startServer(dataDir);
    const seen = await fetch(`${again.url}/api/v2/user/${carolId}/`);
    assert.equal(seen.status, 200);
    assert.equal((await seen.json()).username, 'carol');
    assert.notEqual(await stop(again, 'SIGKILL'), 0);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(again.pid));

    // ...which does not block the next start.
    const third = await startServer(dataDir);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(third.pid));
    assert.equal((await (await fetch(`${third.url}/api/v2/user/2/`)).json()).username, 'dave');
    assert.equal(await stop(third, 'SIGTERM'), 0);
  });
});
