import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openAndPrepare } from '../../src/bootstrap.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import {
  type ConnectionAction,
  mirror,
  NO_HIDES,
  type PairState,
  pairStateOf,
  plan,
} from '../../src/domain/connection-state.js';
import { checkGraph } from '../../src/services/graph-check.js';
import { embeddedEnv, ServerProcess } from '../helpers/server-process.js';
import { random } from '../helpers/stress.js';
import { tempDirs } from '../helpers/temp.js';
import { insertMember, JWT_SECRET, throwawayDatabase } from '../helpers/world.js';

// SIGKILL of a real server at a random moment under a write load, restart, check; in cycles. Each
// writer owns one pair and knows its state from the answers it got; an action whose answer never
// came (the kill) either happened or not. After each kill: every acknowledged change is in the
// database, every pair has exactly one event per change that happened, kith check is clean.
// 10 cycles on PostgreSQL, 2 on the embedded database (each start and open of it costs seconds);
// KITH_CRASH_CYCLES=N or `npm run crash-loop -- --cycles N` for more. The seed is printed.

const baseUrl = process.env.DATABASE_URL;
const CYCLES = Number(process.env.KITH_CRASH_CYCLES ?? (baseUrl ? 10 : 2));
const SEED = Number(process.env.KITH_STRESS_SEED ?? Math.floor(Math.random() * 1_000_000));
const WRITERS = 16;
const ACTIONS: ConnectionAction[] = ['request', 'accept', 'reject', 'cancel_reject', 'cancel_request', 'remove'];
const tempDir = tempDirs('kith-crash-');

interface Pair {
  x: number;
  y: number;
  /** The state from x's side, as the answers so far say. */
  state: PairState;
  /** Changes that happened, each of which must have its one event. */
  changes: number;
  /** The action sent whose answer never came. */
  unanswered?: { actor: number; action: ConnectionAction; from: PairState };
}

/** A state from the actor's side, seen from x's. */
const stateFromX = (pair: Pair, actor: number, state: PairState): PairState =>
  actor === pair.x ? state : mirror(state);

/** What the rows say about each pair: its state from x's side and its events. */
async function stored(db: DatabaseHandle['db'], pair: Pair) {
  const connected = await db
    .selectFrom('connections')
    .select('user_id')
    .where('user_id', '=', pair.x)
    .where('friend_id', '=', pair.y)
    .executeTakeFirst();
  const request = await db
    .selectFrom('connection_requests')
    .select(['from_user_id', 'rejected', 'withheld'])
    .where((eb) =>
      eb.or([
        eb.and([eb('from_user_id', '=', pair.x), eb('to_user_id', '=', pair.y)]),
        eb.and([eb('from_user_id', '=', pair.y), eb('to_user_id', '=', pair.x)]),
      ]),
    )
    .executeTakeFirst();
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM events
    WHERE (from_user_id, to_user_id) IN ((${pair.x}, ${pair.y}), (${pair.y}, ${pair.x}))`.execute(db);
  return { state: pairStateOf(pair.x, { connected: connected !== undefined, request }), events: rows[0]!.n };
}

test(`crash loop: ${CYCLES} SIGKILLs under a write load on ${baseUrl ? 'PostgreSQL' : 'the embedded database'}`, {
  timeout: Math.max(600_000, CYCLES * 120_000),
}, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: KITH_STRESS_SEED=${SEED})`);
  process.stderr.write(`crash-loop seed ${SEED}\n`);
  const next = random(SEED);
  const database = baseUrl ? await throwawayDatabase(baseUrl) : undefined;
  const dataDir = join(tempDir(), 'data');
  const env: NodeJS.ProcessEnv = database
    ? {
        ...process.env,
        DATABASE_URL: database.url,
        JWT_SECRET,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
        KITH_DATA_DIR: tempDir(),
        // The load is many writes a pair: the abuse limits are not what this tests.
        KITH_RATE_LIMITS: 'false',
      }
    : { ...embeddedEnv(dataDir), JWT_SECRET, KITH_RATE_LIMITS: 'false' };
  const open = () =>
    database
      ? openDatabase({ databaseUrl: database.url, dataDir: '', statementTimeoutMs: 0 })
      : openDatabase({ databaseUrl: undefined, dataDir, statementTimeoutMs: 0 });

  // The members, in a migrated database, before the first start.
  const setup = await openAndPrepare({ databaseUrl: database?.url, dataDir, adminPassword: undefined });
  const tokens = new Map<number, string>();
  const pairs: Pair[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const [x, y] = [await insertMember(setup.db), await insertMember(setup.db)];
    tokens.set(x.id, x.token);
    tokens.set(y.id, y.token);
    pairs.push({ x: x.id, y: y.id, state: 'none', changes: 0 });
  }
  await setup.close();

  let acknowledged = 0;
  let unanswered = 0;
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const server = await ServerProcess.spawn({ env, readyWithinMs: 120_000 });
      const cycleStart = acknowledged;
      let killed = false;
      const writer = async (pair: Pair) => {
        const rng = random(SEED * 100 + cycle * WRITERS + pairs.indexOf(pair));
        while (!killed) {
          const actor = rng() < 0.5 ? pair.x : pair.y;
          const them = actor === pair.x ? pair.y : pair.x;
          const action = ACTIONS[Math.floor(rng() * ACTIONS.length)]!;
          const from = actor === pair.x ? pair.state : mirror(pair.state);
          pair.unanswered = { actor, action, from };
          const response = await fetch(`${server.url}/api/v2/user/${them}/connection/${action}/`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tokens.get(actor)}`, 'content-type': 'application/json' },
          }).catch(() => undefined);
          if (!response) return; // killed: this action's fate is read from the database
          const body = await response.json().catch(() => undefined);
          if (body === undefined) return;
          pair.unanswered = undefined;
          assert.ok(response.status === 200 || response.status === 400, `${response.status} ${JSON.stringify(body)}`);
          const planned = plan(from, action, { me: actor, them }, NO_HIDES);
          assert.equal(response.status === 200, planned.ok, `${action} from ${from}: ${JSON.stringify(body)}`);
          if (!planned.ok) continue;
          if (planned.effects.some((e) => e.kind === 'event')) pair.changes += 1;
          pair.state = stateFromX(pair, actor, planned.next);
          acknowledged += 1;
        }
      };
      const writing = Promise.all(pairs.map(writer));
      // The kill comes after a random number of acknowledged writes (not a time: the machine's
      // speed must not decide how much is tested), then a random few milliseconds more.
      const target = cycleStart + 50 + Math.floor(next() * 200);
      while (acknowledged < target && server.alive) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, next() * 30));
      killed = true;
      await server.stop('SIGKILL');
      await writing;

      const handle = await open();
      try {
        for (const pair of pairs) {
          const now = await stored(handle.db, pair);
          const pending = pair.unanswered;
          if (pending) {
            unanswered += 1;
            const planned = plan(pending.from, pending.action, { me: pending.actor, them: 0 }, NO_HIDES);
            const after = planned.ok ? stateFromX(pair, pending.actor, planned.next) : pair.state;
            assert.ok(
              now.state === pair.state || now.state === after,
              `cycle ${cycle}, pair ${pair.x}:${pair.y}: stored ${now.state}, acknowledged ${pair.state}, unanswered ${pending.action} → ${after} (seed ${SEED})`,
            );
            if (now.state !== pair.state && planned.ok && planned.effects.some((e) => e.kind === 'event')) {
              pair.changes += 1;
            }
            pair.state = now.state;
            pair.unanswered = undefined;
          }
          assert.equal(
            now.state,
            pair.state,
            `cycle ${cycle}, pair ${pair.x}:${pair.y}: an acknowledged change is missing (seed ${SEED})`,
          );
          assert.equal(
            now.events,
            pair.changes,
            `cycle ${cycle}, pair ${pair.x}:${pair.y}: one event per change (seed ${SEED})`,
          );
        }
        const check = await checkGraph(handle.db);
        assert.deepEqual(
          check.invariants.filter((i) => i.violations > 0),
          [],
          `cycle ${cycle} (seed ${SEED})`,
        );
      } finally {
        await handle.close();
      }
    }
  } finally {
    await database?.drop();
  }
  t.diagnostic(`${acknowledged} acknowledged writes, ${unanswered} unanswered at a kill`);
  assert.ok(acknowledged >= CYCLES * 50, `${acknowledged} acknowledged writes`);
  assert.ok(pairs.some((p) => p.changes > 2));
});
