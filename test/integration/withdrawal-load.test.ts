import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { checkGraph } from '../../src/services/graph-check.js';
import { setActive, setRole } from '../../src/services/member-admin.js';
import { random } from '../helpers/stress.js';
import { World } from '../helpers/world.js';

// Members withdrawn (blocked, unblocked, deactivated, activated, deleted) and their roles changed by
// an administrator while their relations move under them: moves and withdrawals lock members' rows
// in one order (id order), so none of them deadlocks — counted by PostgreSQL (`pg_stat_database`),
// since a move PostgreSQL aborts is run again and the client would not see it. No answer is a 5xx,
// and kith check is clean afterwards. Bounded: 3,000 moves on PostgreSQL, 300 on the embedded
// database (one connection, where only the answers and the check apply). The seed is printed;
// KITH_WITHDRAWAL_SEED=N replays the choices (not the timing).

const postgres = process.env.DATABASE_URL !== undefined;
const MOVES = Number(process.env.KITH_WITHDRAWAL_MOVES ?? (postgres ? 3_000 : 300));
const LANES = 16;
const MEMBERS = 24;
const SEED = Number(process.env.KITH_WITHDRAWAL_SEED ?? Math.floor(Math.random() * 1_000_000));

let world: World;
before(async () => {
  world = await World.start();
});
after(() => world.close());

async function deadlocks() {
  const { rows } = await sql<{ n: string }>`
    SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()`.execute(world.db);
  return Number(rows[0]!.n);
}

/**
 * Ends every other backend of this database: each reports its pending statistics (the deadlocks it
 * was the victim of) as it exits, where an idle one would wait up to 10 s. The pool reconnects.
 */
async function flushStatistics() {
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(world.db);
}

test(`withdrawals beside ${MOVES} moves, ${LANES} lanes, ${MEMBERS} members: no deadlock, no 5xx, the graph clean`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: KITH_WITHDRAWAL_SEED=${SEED})`);
  const pick = random(SEED);
  const admin = await world.adminToken();
  const members = await Promise.all(Array.from({ length: MEMBERS }, () => world.user()));
  const tokens = new Map(members.map((m) => [m.id, m.token]));
  const hot = members.map((m) => m.id);
  const answers = new Map<number, number>();
  const count = (status: number) => answers.set(status, (answers.get(status) ?? 0) + 1);
  const fivexx: string[] = [];
  const record = (what: string, status: number, text: string) => {
    count(status);
    if (status >= 500) fivexx.push(`${what}: ${status} ${text}`);
  };
  if (postgres) await flushStatistics();
  const before = postgres ? await deadlocks() : 0;

  let left = MOVES;
  const ACTIONS = ['request', 'request', 'accept', 'reject', 'cancel_request', 'remove', 'hide'];
  const lane = async () => {
    while (left-- > 0) {
      const me = hot[Math.floor(pick() * hot.length)]!;
      const them = hot[Math.floor(pick() * hot.length)]!;
      const action = ACTIONS[Math.floor(pick() * ACTIONS.length)]!;
      const path = action === 'hide' ? `/api/v2/user/${them}/${action}/` : `/api/v2/user/${them}/connection/${action}/`;
      let r = await world.request('POST', path, {
        token: tokens.get(me)!,
        headers: { 'content-type': 'application/json' },
        raw: '',
      });
      if (r.status === 401) {
        // Withdrawn since (their tokens cut off): the token endpoint would issue a new one once back.
        tokens.set(me, await world.tokenFor(me));
        r = await world.request('POST', path, {
          token: tokens.get(me)!,
          headers: { 'content-type': 'application/json' },
          raw: '',
        });
      }
      record(`${me} ${action} ${them}`, r.status, r.text);
    }
  };

  const administrator = async () => {
    let deleted = 0;
    while (left > 0) {
      const index = Math.floor(pick() * hot.length);
      const id = hot[index]!;
      const kind = pick();
      if (kind < 0.25) {
        const r = await world.request('PATCH', `/api/v2/moderation/user/${id}/`, {
          token: admin,
          body: { status: 'b' },
        });
        record(`block ${id}`, r.status, r.text);
      } else if (kind < 0.5) {
        const r = await world.request('PATCH', `/api/v2/moderation/user/${id}/`, {
          token: admin,
          body: { status: 'a' },
        });
        record(`unblock ${id}`, r.status, r.text);
      } else if (kind < 0.65) {
        await setActive(world.db, { id }, false).catch((error) => assert.ok(error.status < 500, String(error)));
      } else if (kind < 0.8) {
        await setActive(world.db, { id }, true).catch((error) => assert.ok(error.status < 500, String(error)));
      } else if (kind < 0.92) {
        await setRole(world.db, { id }, pick() < 0.5 ? 'moderator' : null).catch((error) =>
          assert.ok(error.status < 500, String(error)),
        );
      } else if (deleted < 4) {
        const r = await world.request('DELETE', `/api/v2/user/${id}/`, { token: admin });
        record(`delete ${id}`, r.status, r.text);
        // A new member takes the deleted one's place among the hot ones.
        const member = await world.user();
        tokens.set(member.id, member.token);
        hot[index] = member.id;
        deleted++;
      }
    }
  };

  await Promise.all([administrator(), ...Array.from({ length: LANES }, lane)]);
  t.diagnostic(`answers ${JSON.stringify(Object.fromEntries([...answers].sort(([a], [b]) => a - b)))}`);
  assert.deepEqual(fivexx, [], `seed ${SEED}`);
  assert.ok((answers.get(200) ?? 0) + (answers.get(204) ?? 0) > MOVES / 10, 'enough moves were made to mean something');

  if (postgres) {
    await flushStatistics();
    assert.equal((await deadlocks()) - before, 0, `deadlocks PostgreSQL broke (seed ${SEED})`);
  }
  const check = await checkGraph(world.db);
  assert.deepEqual(
    check.invariants.filter((i) => i.violations > 0),
    [],
    `kith check, seed ${SEED}`,
  );
});
