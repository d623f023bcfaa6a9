import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { deleteMember, setRole } from '../../src/services/member-admin.js';
import type { Transaction } from '../../src/services/transaction.js';
import { ok, someoneWaitsForALock, World } from '../helpers/world.js';

/**
 * Every transaction that locks members' rows takes them in id order (the order of `lockPair`), so
 * none waits for a move that waits for it. Each test here holds the lower member's row as a move
 * does (a transaction of its own), starts the administrative change, waits until the change is
 * blocked, then takes the higher member's row as the move would next: in the wrong order this is a
 * deadlock, and PostgreSQL aborts one side (40P01) after `deadlock_timeout`.
 */
describe('lock order', { skip: process.env.DATABASE_URL ? false : 'two transactions at once need PostgreSQL' }, () => {
  let world: World;
  before(async () => {
    world = await World.start();
  });
  after(() => world.close());

  const lock = (tx: Transaction, id: number) =>
    sql`SELECT id FROM users WHERE id = ${id} FOR NO KEY UPDATE`.execute(tx);

  /** A move's locks by hand: `first`, then (once `change` waits) `second`; then `change` must finish. */
  async function crossing(first: number, second: number, change: () => Promise<unknown>) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const move = world.db.transaction().execute(async (tx) => {
      await lock(tx, first);
      holding();
      await released;
      await lock(tx, second);
    });
    await held;
    const changing = change();
    // Whether the change waits for the first member or for a later one, the move takes its second now.
    await someoneWaitsForALock(world.db);
    release();
    const [moved, changed] = await Promise.allSettled([move, changing]);
    assert.equal(moved.status, 'fulfilled', `the move failed: ${moved.status === 'rejected' && moved.reason}`);
    assert.equal(changed.status, 'fulfilled', `the change failed: ${changed.status === 'rejected' && changed.reason}`);
  }

  test('deleting a member locks the members who hide them or whom they hide in order, with the rest', async () => {
    const hider = await world.user();
    const deleted = await world.user();
    assert.ok(hider.id < deleted.id);
    // A hide is the pair's only relation: the deletion removes it (and its trigger touches the hider).
    await sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${hider.id}, ${deleted.id})`.execute(world.db);
    await crossing(hider.id, deleted.id, () => deleteMember(world.db, { id: deleted.id }));
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM user_hides WHERE hidden_id = ${deleted.id}`.execute(world.db);
    assert.equal(rows[0]!.n, 0);
  });

  test('a role change locks the administrators and the member in one id-ordered pass', async () => {
    const member = await world.user();
    const admin = await world.user({ role: 'admin' });
    assert.ok(member.id < admin.id);
    await crossing(member.id, admin.id, () => setRole(world.db, { id: member.id }, 'moderator'));
    const { rows } = await sql<{ role: string }>`SELECT role FROM users WHERE id = ${member.id}`.execute(world.db);
    assert.equal(rows[0]!.role, 'moderator');
  });

  test('a relation made while a deletion waits for the member is locked in order, not after the member', async () => {
    const other = await world.user();
    const deleted = await world.user();
    assert.ok(other.id < deleted.id);
    let proceed!: () => void;
    const proceeding = new Promise<void>((resolve) => (proceed = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // A move of the pair that makes a relation (a hide) while the deletion waits for the member.
    const making = world.db.transaction().execute(async (tx) => {
      await lock(tx, other.id);
      await lock(tx, deleted.id);
      holding();
      await proceeding;
      await sql`INSERT INTO user_hides (hider_id, hidden_id) VALUES (${other.id}, ${deleted.id})`.execute(tx);
    });
    await held;
    // The deletion finds no relation yet, and waits for the member's row.
    const deleting = deleteMember(world.db, { id: deleted.id });
    await someoneWaitsForALock(world.db);
    // A second move of the pair queues for the other member's row while the first still holds it.
    let firstLocked!: () => void;
    const secondHasFirst = new Promise<void>((resolve) => (firstLocked = resolve));
    const second = world.db.transaction().execute(async (tx) => {
      await lock(tx, other.id);
      firstLocked();
      await lock(tx, deleted.id);
    });
    proceed();
    await making;
    // The second move holds the other member and now wants the deleted one, which the deletion holds
    // (or will take): the deletion must let it go rather than wait for the other member behind it.
    await secondHasFirst;
    const [moved, deletion] = await Promise.allSettled([second, deleting]);
    assert.equal(moved.status, 'fulfilled', `the move failed: ${moved.status === 'rejected' && moved.reason}`);
    assert.equal(
      deletion.status,
      'fulfilled',
      `the deletion failed: ${deletion.status === 'rejected' && deletion.reason}`,
    );
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM user_hides WHERE hidden_id = ${deleted.id}`.execute(world.db);
    assert.equal(rows[0]!.n, 0);
  });

  /**
   * A deadlock the move is the victim of: a transaction of the test's `holds` something first, then
   * (once the move waits for it) locks the sender's row, which the move holds. That side waits 10 s
   * before looking for a deadlock, so the move (1 s, the default) is the one PostgreSQL aborts; the
   * side then rolls back. The move, run again, must answer 200 having stored its request once, and
   * its sender's budget of 2 requests must have been taken once: one more passes, the next is a 429.
   */
  async function deadlockedRequest(holds: (tx: Transaction, sender: number, them: number) => Promise<unknown>) {
    const server = await world.server({
      rateLimits: {
        enabled: true,
        redisUrl: undefined,
        perIp: null,
        tokenPerIp: null,
        tokenPerUsername: null,
        connectionRequests: { max: 2, windowMs: 3_600_000 },
        follows: null,
      },
    });
    try {
      const sender = await server.user();
      const [b, c, d] = [await server.user(), await server.user(), await server.user()];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const crossing = world.db
        .transaction()
        .execute(async (tx) => {
          await sql`SET LOCAL deadlock_timeout = '10s'`.execute(tx);
          await holds(tx, sender.id, b.id);
          holding();
          await released;
          await lock(tx, sender.id);
          throw new Error('rolled back on purpose');
        })
        .catch((error: Error) => assert.equal(error.message, 'rolled back on purpose'));
      await held;
      const requesting = server.act(sender.token, b.id, 'request');
      await someoneWaitsForALock(world.db);
      release();
      await crossing;
      await ok(requesting);
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM connection_requests WHERE from_user_id = ${sender.id}`.execute(world.db);
      assert.equal(rows[0]!.n, 1, 'the request was stored once');
      await ok(server.act(sender.token, c.id, 'request'));
      assert.equal((await server.act(sender.token, d.id, 'request')).status, 429);
    } finally {
      await server.close();
    }
  }

  test('a move PostgreSQL aborts to break a deadlock while it waits for its locks is run again', async () => {
    // The other member's row: the move holds the sender's and waits for it.
    await deadlockedRequest((tx, _sender, them) => lock(tx, them));
  });

  test('a move aborted by a deadlock after its gate is run again and counted once against its limit', async () => {
    // The pair's request row, inserted and not committed (no member locked: the version trigger is
    // off for this transaction): the move passes its gate and its limit, then waits on that row.
    await deadlockedRequest(async (tx, sender, them) => {
      await sql`SET LOCAL kith.bulk_load = 'on'`.execute(tx);
      await sql`INSERT INTO connection_requests (from_user_id, to_user_id) VALUES (${sender}, ${them})`.execute(tx);
    });
  });
});
