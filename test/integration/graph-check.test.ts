import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openAndPrepare } from '../../src/bootstrap.js';
import { checkGraph, INVARIANT_NAMES, repairGraph } from '../../src/services/graph-check.js';
import { embeddedEnv, runCli } from '../helpers/server-process.js';
import { tempDirs } from '../helpers/temp.js';
import { insertMember, type Member, ok, World } from '../helpers/world.js';

// `kith check` on a small community built through the API, corrupted one invariant at a time with
// raw SQL: the check names exactly the invariants each corruption breaks, --repair recomputes the
// derived ones and leaves the others reported.

let world: World;
let a: Member;
let b: Member;
let c: Member;
let d: Member;
let e: Member;
const MISSING = 999_999;

type Db = World['db'];
/** Runs one or more statements (separated by semicolons). */
async function run(db: Db, statements: string) {
  for (const statement of statements.split(';')) await sql.raw(statement).execute(db);
}

/** The names of the invariants that fail now. */
async function failing(db: Db = world.db): Promise<string[]> {
  const check = await checkGraph(db);
  return check.invariants.filter((i) => i.violations > 0).map((i) => i.name);
}

before(async () => {
  world = await World.start();
  [a, b, c, d, e] = await Promise.all([world.user(), world.user(), world.user(), world.user(), world.user()]);
  await ok(world.act(a.token, b.id, 'request')); // a → b waits
  await ok(world.act(c.token, a.id, 'request'));
  await ok(world.act(a.token, c.id, 'reject')); // c → a rejected
  await ok(world.act(a.token, d.id, 'request'));
  await ok(world.act(d.token, a.id, 'accept')); // a ↔ d
  await world.setPreferences({ follow_enabled: true });
  for (const follower of [b, e]) {
    const path = `/api/v2/user/${a.id}/follow/`;
    await ok(
      world.request('POST', path, { token: follower.token, headers: { 'content-type': 'application/json' }, raw: '' }),
      204,
    );
  }
});
after(() => world.close());

describe('kith check on a community built through the API', () => {
  test('every invariant holds, and the report lists each one', async () => {
    const check = await checkGraph(world.db);
    assert.deepEqual(
      check.invariants.map((i) => i.name),
      INVARIANT_NAMES,
    );
    assert.ok(INVARIANT_NAMES.length >= 14);
    assert.deepEqual(
      check.invariants.filter((i) => i.violations > 0),
      [],
    );
    assert.equal(check.violations, 0);
  });

  // Each case: the corruption, and the invariants it breaks. --repair recomputes all of them.
  const derived: Array<[string, () => string, string[]]> = [
    [
      'a connection counter',
      () => `UPDATE users SET connections_count = 5 WHERE id = ${a.id}`,
      ['users.connections_count', 'user_json'],
    ],
    [
      'a sent-requests counter',
      () => `UPDATE users SET requests_sent_count = 0 WHERE id = ${a.id}`,
      ['users.requests_sent_count'],
    ],
    [
      'a received-requests counter (the rejected one does not count)',
      () => `UPDATE users SET requests_received_count = 1 WHERE id = ${a.id}`,
      ['users.requests_received_count'],
    ],
    [
      'a followers counter',
      () => `UPDATE users SET followers_count = 0 WHERE id = ${a.id}`,
      ['users.followers_count', 'user_json'],
    ],
    [
      'a followings counter',
      () => `UPDATE users SET followings_count = 3 WHERE id = ${e.id}`,
      ['users.followings_count', 'user_json'],
    ],
    [
      'a per-day pending count',
      () => `UPDATE connection_request_days SET pending = pending + 1 WHERE to_user_id = ${b.id}`,
      ['connection_request_days'],
    ],
    [
      'a per-day pending count of a member without requests',
      () => `INSERT INTO connection_request_days VALUES (${e.id}, 20000, 2)`,
      ['connection_request_days'],
    ],
    ['a missing per-day follower count', () => `DELETE FROM follow_days WHERE followed_id = ${a.id}`, ['follow_days']],
    ['a stored user JSON', () => `UPDATE user_json SET tail = tail || ' ' WHERE user_id = ${a.id}`, ['user_json']],
    ['a missing user JSON', () => `DELETE FROM user_json WHERE user_id = ${b.id}`, ['user_json']],
  ];
  for (const [what, corruption, names] of derived) {
    test(`derived: ${what} is named, and --repair fixes it`, async () => {
      await run(world.db, corruption());
      assert.deepEqual(await failing(), names);
      const repaired = await repairGraph(world.db);
      // The first name is the corrupted value; the JSON that shows it is right again once it is.
      assert.ok((repaired[names[0]!] ?? 0) > 0, JSON.stringify(repaired));
      assert.deepEqual(await failing(), []);
    });
  }
});

describe('kith check with the schema constraints dropped (as a bulk load or a bad restore leaves them)', () => {
  // The constraints that make these states impossible to commit today: the check must still see them.
  let dropped: Array<{ table: string; name: string; definition: string }> = [];
  before(async () => {
    const { rows } = await sql<{ table: string; name: string; definition: string }>`
      SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition
      FROM pg_constraint
      WHERE (contype = 'f' AND confrelid IN ('users'::regclass, 'connections'::regclass))
         OR (contype = 'c' AND conrelid = 'follows'::regclass AND pg_get_constraintdef(oid) LIKE '%<>%')`.execute(
      world.db,
    );
    dropped = rows;
    for (const c of rows) await run(world.db, `ALTER TABLE ${c.table} DROP CONSTRAINT ${c.name}`);
    await run(world.db, 'DROP INDEX connection_requests_pair_key');
  });
  after(async () => {
    for (const c of dropped) await run(world.db, `ALTER TABLE ${c.table} ADD CONSTRAINT ${c.name} ${c.definition}`);
    await run(
      world.db,
      'CREATE UNIQUE INDEX connection_requests_pair_key ON connection_requests (least(from_user_id, to_user_id), greatest(from_user_id, to_user_id))',
    );
  });

  // Each case: the corruption (with its counters kept right where it can), what fails, what still
  // fails after --repair (the source rows are never "fixed"), and how the test undoes it.
  const cases: Array<[string, () => string, string[], string[], () => string]> = [
    [
      'a request between connected members',
      () =>
        `INSERT INTO connection_requests (from_user_id, to_user_id) VALUES (${a.id}, ${d.id});
         UPDATE users SET requests_sent_count = requests_sent_count + 1 WHERE id = ${a.id};
         UPDATE users SET requests_received_count = requests_received_count + 1 WHERE id = ${d.id}`,
      ['request_between_connected'],
      ['request_between_connected'],
      () => `DELETE FROM connection_requests WHERE from_user_id = ${a.id} AND to_user_id = ${d.id}`,
    ],
    [
      'a request both ways',
      () =>
        `INSERT INTO connection_requests (from_user_id, to_user_id) VALUES (${b.id}, ${a.id});
         UPDATE users SET requests_sent_count = requests_sent_count + 1 WHERE id = ${b.id};
         UPDATE users SET requests_received_count = requests_received_count + 1 WHERE id = ${a.id}`,
      ['request_both_ways'],
      ['request_both_ways'],
      () => `DELETE FROM connection_requests WHERE from_user_id = ${b.id} AND to_user_id = ${a.id}`,
    ],
    [
      'a one-sided connection (its counter follows)',
      () => `DELETE FROM connections WHERE user_id = ${d.id} AND friend_id = ${a.id}`,
      ['users.connections_count', 'one_sided_connection'],
      ['one_sided_connection'],
      () =>
        `INSERT INTO connections SELECT friend_id, user_id, created FROM connections WHERE user_id = ${a.id} AND friend_id = ${d.id}`,
    ],
    [
      'a self-follow',
      () => `INSERT INTO follows (follower_id, followed_id) VALUES (${c.id}, ${c.id})`,
      ['users.followers_count', 'users.followings_count', 'self_edge'],
      ['self_edge'],
      () => `DELETE FROM follows WHERE follower_id = ${c.id} AND followed_id = ${c.id}`,
    ],
    [
      'a row naming a missing member',
      () => `INSERT INTO refresh_tokens (token_hash, user_id, expires) VALUES ('dangling', ${MISSING}, now())`,
      ['missing_member'],
      ['missing_member'],
      () => `DELETE FROM refresh_tokens WHERE user_id = ${MISSING}`,
    ],
    [
      'a connection to a missing member',
      () =>
        `INSERT INTO connections VALUES (${b.id}, ${MISSING}, now()), (${MISSING}, ${b.id}, now());
         UPDATE users SET connections_count = connections_count + 1 WHERE id = ${b.id}`,
      ['missing_member', 'user_json'],
      ['missing_member'],
      () => `DELETE FROM connections WHERE ${MISSING} IN (user_id, friend_id)`,
    ],
    [
      'an edge of a deleted member',
      () => `UPDATE users SET deleted = true WHERE id = ${e.id}`,
      ['deleted_member_edge', 'user_json'],
      ['deleted_member_edge'],
      () => `UPDATE users SET deleted = false WHERE id = ${e.id}`,
    ],
    [
      'derived rows of a missing member (derived: repaired by deleting them)',
      () =>
        `INSERT INTO follow_days VALUES (${MISSING}, 1, 0);
         INSERT INTO user_json SELECT ${MISSING}, head, tail, follow_head, follow_tail FROM user_json WHERE user_id = ${a.id}`,
      ['orphan_derived_row'],
      [],
      () => 'SELECT 1',
    ],
  ];
  for (const [what, corruption, names, afterRepair, undo] of cases) {
    test(`${what} is named; --repair leaves ${afterRepair.length ? 'it reported' : 'nothing'}`, async () => {
      await run(world.db, corruption());
      assert.deepEqual(await failing(), names);
      await repairGraph(world.db);
      assert.deepEqual(await failing(), afterRepair);
      await run(world.db, undo());
      await repairGraph(world.db);
      assert.deepEqual(await failing(), []);
    });
  }

  test('the examples name the offending rows, capped by the limit', async () => {
    await run(world.db, `UPDATE users SET requests_sent_count = 7 WHERE id IN (${a.id}, ${b.id}, ${c.id})`);
    const check = await checkGraph(world.db, { limit: 2 });
    const sent = check.invariants.find((i) => i.name === 'users.requests_sent_count');
    assert.equal(sent?.violations, 3);
    // a sent one request (to b), c one (to a), b none; the examples come in id order.
    const rows = [
      { user_id: a.id, stored: 7, actual: 1 },
      { user_id: b.id, stored: 7, actual: 0 },
      { user_id: c.id, stored: 7, actual: 1 },
    ].sort((p, q) => p.user_id - q.user_id);
    assert.deepEqual(sent?.examples, rows.slice(0, 2));
    await repairGraph(world.db);
    assert.deepEqual(await failing(), []);
  });
});

describe(`the kith check command on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'the embedded database'}`, () => {
  const tempDir = tempDirs('kith-check-');
  test('names what fails and exits 1; --repair fixes derived data and still reports the rest; --json', {
    timeout: 300_000,
  }, async () => {
    // On PostgreSQL the command opens the world's own throwaway database; embedded, a data directory.
    let env: NodeJS.ProcessEnv;
    let db: Db;
    let close = async () => {};
    const url = (world.handle as { databaseUrl?: string }).databaseUrl;
    if (url) {
      env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
      db = world.db;
    } else {
      const dataDir = join(tempDir(), 'data');
      env = embeddedEnv(dataDir);
      const handle = await openAndPrepare({ databaseUrl: undefined, dataDir, adminPassword: undefined });
      db = handle.db;
      close = handle.close;
    }
    const member = await insertMember(db);
    await run(db, `UPDATE users SET requests_sent_count = 4 WHERE id = ${member.id}`);
    await run(db, 'ALTER TABLE user_settings DROP CONSTRAINT user_settings_user_id_fkey');
    await run(db, `INSERT INTO user_settings (user_id, name, value) VALUES (${MISSING}, 'x', '1')`);
    await close();
    try {
      const checked = await runCli(['check'], env);
      assert.equal(checked.status, 1, checked.stderr);
      assert.match(
        checked.stdout,
        new RegExp(
          `FAIL  users.requests_sent_count: 1 violations .*\n +\\{"user_id":${member.id},"stored":4,"actual":0\\}`,
        ),
      );
      assert.match(checked.stdout, /FAIL {2}missing_member: 1 violations .*not derived/);
      assert.match(checked.stdout, /ok {4}request_both_ways\n/);
      assert.match(checked.stdout, /kith check: 2 of \d+ invariants fail, 2 violations\n$/);

      // --repair and --json together: one open less (each embedded open costs seconds).
      const repaired = await runCli(['check', '--repair', '--json', '--limit', '1'], env);
      assert.equal(repaired.status, 1, repaired.stderr);
      const report = JSON.parse(repaired.stdout);
      assert.equal(report.repaired['users.requests_sent_count'], 1);
      assert.equal(report.violations, 1);
      const sent = report.invariants.find((i: { name: string }) => i.name === 'users.requests_sent_count');
      assert.equal(sent.violations, 0);
      const missing = report.invariants.find((i: { name: string }) => i.name === 'missing_member');
      assert.deepEqual(missing.examples, [{ table: 'user_settings', column: 'user_id', user_id: MISSING }]);

      const bad = await runCli(['check', '--limit', 'x'], env);
      assert.equal(bad.status, 1);
      assert.equal(bad.stderr, 'kith: --limit must be a whole number\n');
    } finally {
      if (url) {
        await run(world.db, `DELETE FROM user_settings WHERE user_id = ${MISSING}`);
        await run(
          world.db,
          'ALTER TABLE user_settings ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE',
        );
      }
    }
  });
});
