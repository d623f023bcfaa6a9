import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { openAndPrepare } from '../../src/bootstrap.js';
import { embeddedEnv, ServerProcess } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';
import { insertMember, throwawayDatabase, unique } from '../helpers/world.js';

// The backups README's "Running in production" describes, tried with real processes and tools.

const run = promisify(execFile);
const newDir = tempDirs('kith-backup-');
const ADMIN_PASSWORD = 'Admin-pass-1';

const json = async (response: Response) => ({ status: response.status, body: (await response.json()) as any });

describe('backups', () => {
  test('embedded database: stop the server, copy KITH_DATA_DIR, a server on the copy has the data', async () => {
    const original = newDir();
    const env = embeddedEnv(original, { KITH_ADMIN_PASSWORD: ADMIN_PASSWORD, LOG_LEVEL: 'error' });
    const first = await ServerProcess.spawn({ env });
    const username = unique('backup');
    let token: string;
    let id: number;
    try {
      const grant = await json(
        await fetch(`${first.url}/oauth/token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD }),
        }),
      );
      assert.equal(grant.status, 200, JSON.stringify(grant.body));
      token = grant.body.access_token;
      const created = await json(
        await fetch(`${first.url}/api/v2/account/create/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ username, email: `${username}@example.com`, password: 'Correct-horse-7' }),
        }),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      id = created.body.id;
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0, first.stderr);
    }

    const copy = join(newDir(), 'data');
    cpSync(original, copy, { recursive: true });
    const restored = await ServerProcess.spawn({ env: { ...env, KITH_DATA_DIR: copy } });
    try {
      const user = await json(await fetch(`${restored.url}/api/v2/user/${id}/`));
      assert.equal(user.status, 200);
      assert.equal(user.body.username, username);
      // The generated JWT secret came along: the original's tokens still work.
      assert.equal(readFileSync(join(copy, 'jwt-secret'), 'utf8'), readFileSync(join(original, 'jwt-secret'), 'utf8'));
      const me = await json(
        await fetch(`${restored.url}/api/v2/user/me/`, { headers: { authorization: `Bearer ${token}` } }),
      );
      assert.equal(me.status, 200);
      assert.equal(me.body.username, 'admin');
    } finally {
      await restored.stop();
    }
  });

  test('PostgreSQL: pg_dump of one database, pg_restore into another, a server on it has the data', {
    skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL',
  }, async () => {
    const base = process.env.DATABASE_URL as string;
    const source = await throwawayDatabase(base, 'kith_backup_src');
    const target = await throwawayDatabase(base, 'kith_backup_dst');
    try {
      const handle = await openAndPrepare({ databaseUrl: source.url, dataDir: '', adminPassword: ADMIN_PASSWORD });
      const member = await insertMember(handle.db);
      await handle.close();

      const dump = join(newDir(), 'kith.dump');
      await run('pg_dump', ['--format=custom', `--file=${dump}`, source.url]);
      await run('pg_restore', ['--no-owner', `--dbname=${target.url}`, dump]);

      const server = await ServerProcess.start(target.url);
      try {
        const user = await json(await fetch(`${server.url}/api/v2/user/${member.id}/`));
        assert.equal(user.status, 200);
        assert.equal(user.body.username, member.username);
        const me = await json(
          await fetch(`${server.url}/api/v2/user/me/`, { headers: { authorization: `Bearer ${member.token}` } }),
        );
        assert.equal(me.body.username, member.username);
      } finally {
        await server.stop();
      }
    } finally {
      await source.drop();
      await target.drop();
    }
  });
});
