import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { signAccessToken } from '../../src/services/tokens.js';
import { embeddedEnv, runCli, ServerProcess } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';
import { JWT_SECRET, throwawayDatabase } from '../helpers/world.js';

// `kith migrate` and `kith user …` as real processes, on the database the suite runs on: a throwaway
// PostgreSQL database when DATABASE_URL is set, otherwise an embedded one in a temporary directory
// (where a running server holds the lock). Each embedded open costs seconds: one scenario, in order.

const tempDir = tempDirs('kith-cli-users-');
const baseUrl = process.env.DATABASE_URL;

// Independent of src/db/migrate.ts's list: the migration files themselves.
const MIGRATIONS = readdirSync('src/db/migrations')
  .filter((f) => /^\d{4}-.*\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

const LAST_ADMIN = 'kith: admin (id 1) is the last active administrator; promote another member first.\n';

describe('arguments of kith user and kith migrate (no database opened)', () => {
  test('each subcommand answers --help; bad arguments are one line and exit 1', async () => {
    const dataDir = join(tempDir(), 'data');
    const kith = (args: string[], input?: string) => runCli(args, embeddedEnv(dataDir), input);

    const [help, migrateHelp] = await Promise.all([
      kith(['user', 'list', '--help']),
      kith(['migrate', 'status', '-h']),
    ]);
    assert.equal(help?.status, 0, help?.stderr);
    assert.match(help?.stdout ?? '', /^Usage: kith user/);
    for (const sub of [
      'list',
      'show',
      'deactivate',
      'activate',
      'block',
      'unblock',
      'promote',
      'demote',
      'set-password',
      'deleted',
    ]) {
      assert.ok(help?.stdout.includes(sub), sub);
    }
    assert.equal(migrateHelp?.status, 0, migrateHelp?.stderr);
    assert.match(migrateHelp?.stdout ?? '', /^Usage: kith migrate .*\n +kith migrate status/);

    // One case per kind of mistake (each is a process of its own: about a second and a half of CPU).
    const see = '; see kith user --help';
    const cases: [string[], string, string?][] = [
      [['user', 'show'], `name the member with --id N or --username U (one of them)${see}`],
      [['user', 'list', '--limit', '0'], '--limit must be a whole number of at least 1'],
      [['user', 'promote', '--id', '2', '--role', 'owner'], '--role must be admin, moderator or editor'],
      [['user', 'block', '--id', '2', '--days', '0'], '--days must be a whole number of at least 1'],
      [['user', 'deactivate', '--id', '2', '--nope'], `Unknown option '--nope'${see}`],
      [
        ['user', '--id', '2', 'show'],
        `user needs a subcommand first (create, list, show, deactivate, activate, block, unblock, promote, demote, delete, set-password)${see}`,
      ],
      [
        ['user', 'set-password', '--id', '2', '--password', 'Secret-pass-1'],
        '--password is not accepted here: other users see command lines in ps. Pipe the password on stdin',
      ],
      [['user', 'set-password', '--id', '2'], 'no password on stdin', ''],
      [['user', 'set-password', '--id', '2'], 'password: The password must be 8 to 128 characters long.', 'weak\n'],
    ];
    const results = await Promise.all(cases.map(([args, , input]) => kith(args, input)));
    for (const [i, result] of results.entries()) {
      const [args, line] = cases[i] ?? [[], ''];
      assert.equal(result.stderr, `kith: ${line}\n`, args.join(' '));
      assert.equal(result.status, 1, args.join(' '));
      assert.equal(result.stdout, '');
    }
    assert.equal(existsSync(dataDir), false);
  });
});

describe(`kith migrate and kith user on ${baseUrl ? 'PostgreSQL' : 'the embedded database'}`, () => {
  test('every command, its errors, and a deactivated member refused at the next request', async () => {
    const dataDir = tempDir();
    const database = baseUrl ? await throwawayDatabase(baseUrl) : undefined;
    const envOf = (dir: string): NodeJS.ProcessEnv =>
      database
        ? { ...process.env, DATABASE_URL: database.url, KITH_DATA_DIR: dir, LOG_LEVEL: 'warn', JWT_SECRET }
        : { ...embeddedEnv(dir), JWT_SECRET };
    const kithIn = (dir: string) => async (args: string[], input?: string) => {
      const result = await runCli(args, envOf(dir), input);
      return { ...result, args: args.join(' ') };
    };
    const succeedsIn = (dir: string) => async (args: string[], input?: string) => {
      const result = await kithIn(dir)(args, input);
      assert.equal(result.status, 0, `${result.args}: ${result.stderr}`);
      return result;
    };
    const kith = kithIn(dataDir);
    const succeeds = succeedsIn(dataDir);
    try {
      // migrate: status on an empty database, then the applied names.
      const pending = await succeeds(['migrate', 'status']);
      const lines = (text: string) => text.trimEnd().split('\n');
      assert.deepEqual(
        lines(pending.stdout).map((line) => line.split(/\s+/)),
        MIGRATIONS.map((name) => [name, 'pending']),
      );
      assert.equal((await succeeds(['migrate'])).stdout, MIGRATIONS.map((name) => `applied ${name}\n`).join(''));
      const bob = JSON.parse((await succeeds(['user', 'create', '--username', 'bob'])).stdout) as { id: number };
      assert.equal(bob.id, 2);

      // Two independent chains. On the embedded database each open costs seconds of CPU, so the
      // reads and role changes run on a copy of the directory beside the server chain; on
      // PostgreSQL, where both would share one database, they run one after the other.
      const copy = database ? dataDir : tempDir();
      if (!database) cpSync(dataDir, copy, { recursive: true });

      const commands = async () => {
        const kith = kithIn(copy);
        const succeeds = succeedsIn(copy);
        assert.equal((await succeeds(['migrate'])).stdout, 'already up to date\n');
        const applied = await succeeds(['migrate', 'status']);
        for (const [i, line] of lines(applied.stdout).entries()) {
          assert.match(line, new RegExp(`^${MIGRATIONS[i]} +applied +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`));
        }

        const list = await succeeds(['user', 'list']);
        const rows = lines(list.stdout).map((line) => JSON.parse(line));
        assert.deepEqual(
          rows.map((r) => Object.keys(r)),
          [0, 1].map(() => ['id', 'username', 'role', 'active', 'blocked', 'date_joined']),
        );
        assert.deepEqual(
          rows.map((r) => [r.id, r.username, r.role, r.active]),
          [
            [1, 'admin', 'admin', true],
            [2, 'bob', null, true],
          ],
        );
        assert.equal(list.stderr, 'kith: 2 members, 1-2 shown\n');

        const shown = JSON.parse((await succeeds(['user', 'show', '--username', 'BOB'])).stdout);
        assert.deepEqual([shown.id, shown.username, shown.role, shown.is_active], [2, 'bob', null, true]);
        assert.equal('password_hash' in shown, false);

        const unknown = await kith(['user', 'show', '--id', '99']);
        assert.deepEqual([unknown.status, unknown.stdout, unknown.stderr], [1, '', 'kith: No user with id 99.\n']);

        const promoted = await succeeds(['user', 'promote', '--username', 'bob', '--role', 'moderator']);
        assert.equal(promoted.stdout, 'user 2 (bob) now has role moderator\n');
        const lastAdmin = await kith(['user', 'demote', '--id', '1']);
        assert.deepEqual([lastAdmin.status, lastAdmin.stdout, lastAdmin.stderr], [1, '', LAST_ADMIN]);
        assert.equal((await succeeds(['user', 'demote', '--id', '2'])).stdout, 'user 2 (bob) now has no role\n');

        // A block is lifted by unblock, not by activate; the last administrator cannot be blocked.
        const blocked = await succeeds(['user', 'block', '--username', 'bob', '--days', '3']);
        assert.match(blocked.stdout, /^user 2 \(bob\) blocked until \d{4}-\d\d-\d\dT[\d:.]+Z\n$/);
        const activate = await kith(['user', 'activate', '--id', '2']);
        assert.deepEqual(
          [activate.status, activate.stdout, activate.stderr],
          [
            1,
            '',
            'kith: bob (id 2) is blocked by a moderator; unblock them (kith user unblock) before activating or deactivating them.\n',
          ],
        );
        const blockedRow = lines((await succeeds(['user', 'list', '--offset', '1'])).stdout).map((l) => JSON.parse(l));
        assert.deepEqual(
          blockedRow.map((r) => [r.id, r.active, r.blocked]),
          [[2, false, true]],
        );
        assert.equal((await succeeds(['user', 'unblock', '--id', '2'])).stdout, 'user 2 (bob) unblocked\n');
        assert.equal((await succeeds(['user', 'unblock', '--id', '2'])).stdout, 'user 2 (bob) was not blocked\n');
        const blockAdmin = await kith(['user', 'block', '--id', '1']);
        assert.deepEqual([blockAdmin.status, blockAdmin.stdout, blockAdmin.stderr], [1, '', LAST_ADMIN]);
      };

      // The server: a password set by the CLI logs in; bob's token works until `kith user deactivate`.
      const server = async () => {
        const changed = await succeeds(['user', 'set-password', '--username', 'admin'], 'New-admin-pass-1\n');
        assert.equal(changed.stdout, 'user 1 (admin) has a new password\n');
        const bobToken = await signAccessToken(JWT_SECRET, 2, 3600);
        let running = await ServerProcess.spawn({ env: envOf(dataDir), readyWithinMs: 45_000 });
        const me = (token: string) =>
          fetch(`${running.url}/api/v2/user/me/`, { headers: { authorization: `Bearer ${token}` } });
        const grant = await fetch(`${running.url}/oauth/token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'password', username: 'admin', password: 'New-admin-pass-1' }),
        });
        assert.equal(grant.status, 200, await grant.text());
        assert.equal((await me(bobToken)).status, 200);

        if (!database) {
          // The embedded database is the server's while it runs: the command says so and changes nothing.
          const refused = await kith(['user', 'deactivate', '--username', 'bob']);
          assert.equal(refused.status, 1);
          assert.equal(
            refused.stderr,
            `kith: the embedded database in ${dataDir} is in use by process ${running.pid}; stop it, or use the HTTP API / DATABASE_URL\n`,
          );
          assert.equal((await me(bobToken)).status, 200);
          assert.equal(await running.stop(), 0);
        }
        const deactivated = await succeeds(['user', 'deactivate', '--username', 'bob']);
        assert.equal(deactivated.stdout, 'user 2 (bob) deactivated\n');
        if (!database) running = await ServerProcess.spawn({ env: envOf(dataDir), readyWithinMs: 45_000 });
        assert.equal((await me(bobToken)).status, 401);
        assert.equal(await running.stop(), 0);
      };

      if (database) {
        await commands();
        await server();
      } else await Promise.all([commands(), server()]);
    } finally {
      await database?.drop();
    }
  });
});
