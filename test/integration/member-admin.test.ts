import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrationStatus } from '../../src/db/migrate.js';
import { countStaleUserJson } from '../../src/db/repositories/user-json.js';
import { findById } from '../../src/db/repositories/users.js';
import { AppError } from '../../src/domain/errors.js';
import * as members from '../../src/services/member-admin.js';
import { checkPassword } from '../../src/services/users.js';
import { insertMember, openTestDatabase, unique } from '../helpers/world.js';

// The member administration service on a real database (in-memory PGlite, or a throwaway PostgreSQL
// database when DATABASE_URL is set); the CLI over it is tested by spawning it (cli-users.test.ts).

let handle: Awaited<ReturnType<typeof openTestDatabase>>;
before(async () => {
  handle = await openTestDatabase();
});
after(() => handle.close());

const rejectsWith = (promise: Promise<unknown>, status: number, detail: RegExp) =>
  assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.status, status);
    assert.match(error.detail, detail);
    return true;
  });

describe('member administration', () => {
  test('list: every member by id, inactive ones included, searched by username or real name', async () => {
    const tag = unique('find');
    const a = await insertMember(handle.db, { username: `${tag}_a` });
    const b = await insertMember(handle.db, {
      username: unique(),
      real_name: `Real ${tag.toUpperCase()}`,
      is_active: false,
    });
    await insertMember(handle.db);

    const found = await members.listMembers(handle.db, { search: tag, limit: 10, offset: 0 });
    assert.equal(found.total, 2);
    assert.deepEqual(
      found.items.map((m) => [m.id, m.username, m.role, m.is_active]),
      [
        [a.id, a.username, null, true],
        [b.id, b.username, null, false],
      ],
    );
    const second = await members.listMembers(handle.db, { search: tag, limit: 1, offset: 1 });
    assert.deepEqual(
      second.items.map((m) => m.id),
      [b.id],
    );
    assert.equal(second.total, 2);
    // A % in the search is a character, not a wildcard.
    assert.equal((await members.listMembers(handle.db, { search: `${tag}%`, limit: 10, offset: 0 })).total, 0);
  });

  test('show: inactive members too, without the password hash; unknown ids and usernames are a 404 naming them', async () => {
    const m = await insertMember(handle.db, { is_active: false, password_hash: 'secret-hash' });
    const shown = await members.showMember(handle.db, { username: m.username.toUpperCase() });
    assert.equal(shown.user.id, m.id);
    assert.equal(shown.user.is_active, false);
    assert.equal('password_hash' in shown.user, false);
    await rejectsWith(members.showMember(handle.db, { id: 2_000_000_000 }), 404, /^No user with id 2000000000\.$/);
    await rejectsWith(members.showMember(handle.db, { username: 'nobody-here' }), 404, /username "nobody-here"/);
  });

  test('activate, deactivate, promote, demote: the row changes once, a repeat changes nothing', async () => {
    const m = await insertMember(handle.db);
    assert.equal((await members.setActive(handle.db, { id: m.id }, false)).changed, true);
    assert.equal((await findById(handle.db, m.id))?.is_active, false);
    assert.equal((await members.setActive(handle.db, { id: m.id }, false)).changed, false);
    assert.equal((await members.setActive(handle.db, { username: m.username }, true)).changed, true);
    assert.equal((await members.setRole(handle.db, { id: m.id }, 'moderator')).user.role, 'moderator');
    assert.equal((await members.setRole(handle.db, { id: m.id }, 'moderator')).changed, false);
    assert.equal((await members.setRole(handle.db, { id: m.id }, null)).user.role, null);
    await rejectsWith(members.setActive(handle.db, { id: 2_000_000_000 }, false), 404, /id 2000000000/);
    assert.equal(await countStaleUserJson(handle.db), 0);
  });

  test('the last active administrator keeps the role and stays active, even under two changes at once', async () => {
    const last = /is the last active administrator; promote another member first\.$/;
    // The database's only administrator is user 1.
    await rejectsWith(members.setRole(handle.db, { id: 1 }, null), 400, last);
    await rejectsWith(members.setRole(handle.db, { id: 1 }, 'editor'), 400, last);
    await rejectsWith(members.setActive(handle.db, { id: 1 }, false), 400, last);
    // An inactive admin does not count.
    const inactive = await insertMember(handle.db, { role: 'admin', is_active: false });
    await rejectsWith(members.setRole(handle.db, { id: 1 }, null), 400, last);

    const other = await insertMember(handle.db, { role: 'admin' });
    await members.setRole(handle.db, { id: 1 }, null);
    await rejectsWith(members.setActive(handle.db, { id: other.id }, false), 400, last);
    await members.setRole(handle.db, { id: 1 }, 'admin');

    const outcomes = await Promise.allSettled([
      members.setRole(handle.db, { id: 1 }, null),
      members.setActive(handle.db, { id: other.id }, false),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const admins = await members.listMembers(handle.db, { limit: 1000, offset: 0 });
    const activeAdmins = admins.items.filter((m) => m.role === 'admin' && m.is_active).map((m) => m.id);
    assert.equal(activeAdmins.length, 1);
    assert.ok(activeAdmins[0] === 1 || activeAdmins[0] === other.id);
    // Leave user 1 the administrator for the other tests.
    if (activeAdmins[0] !== 1) {
      await members.setRole(handle.db, { id: 1 }, 'admin');
      await members.setRole(handle.db, { id: other.id }, null);
    } else await members.setActive(handle.db, { id: other.id }, true);
    assert.equal((await findById(handle.db, inactive.id))?.role, 'admin');
  });

  test('set password: the SelfCommunity rule, then the new password logs in', async () => {
    const m = await insertMember(handle.db);
    await rejectsWith(members.setPassword(handle.db, { id: m.id }, 'short'), 400, /^password: .*8 to 128/);
    await rejectsWith(members.setPassword(handle.db, { id: m.id }, 'alllowercase'), 400, /at least 3 of/);
    await members.setPassword(handle.db, { username: m.username }, 'New-pass-1');
    const row = await findById(handle.db, m.id);
    assert.ok(row && (await checkPassword(row, 'New-pass-1')));
    assert.equal(await checkPassword(row, 'Admin-pass-1'), false);
  });

  test('migration status: every migration, applied, with when', async () => {
    const states = await migrationStatus(handle.db);
    assert.ok(states.length >= 9);
    assert.equal(states[0]?.name, '0001-init');
    for (const state of states) assert.ok(state.appliedAt instanceof Date, state.name);
  });
});
