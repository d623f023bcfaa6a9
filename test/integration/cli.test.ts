import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { embeddedEnv, freePort, runCli, runSource, SERVER_SCRIPT, ServerProcess } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';

// Real processes: `node --import tsx src/main.ts` and `node --import tsx src/cli/index.ts`, on the
// embedded database whatever DATABASE_URL says, since the lock is about the embedded data directory.

const tempDir = tempDirs('kith-cli-');

const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

const kith = (dataDir: string, ...args: string[]) => runCli(args, embeddedEnv(dataDir));

const startServer = (dataDir: string) =>
  ServerProcess.spawn({ env: embeddedEnv(dataDir), stderr: 'inherit', readyWithinMs: 45_000 });

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
      ['check', '--help'],
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
    for (const command of ['migrate', 'user create', 'token', 'worker', 'seed', 'check', '--version']) {
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
      [['user', 'frobnicate'], 'unknown subcommand "user frobnicate"; see kith user --help'],
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
      runSource(SERVER_SCRIPT, [], embeddedEnv(dataDir, { PORT: String(await freePort()) })),
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

    assert.equal(await server.stop(), 0);
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
    assert.notEqual(await again.stop('SIGKILL'), 0);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(again.pid));

    // ...which does not block the next start.
    const third = await startServer(dataDir);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(third.pid));
    assert.equal((await (await fetch(`${third.url}/api/v2/user/2/`)).json()).username, 'dave');
    assert.equal(await third.stop(), 0);
  });
});
