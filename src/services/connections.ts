import type { Database } from '../db/database.js';
import { type LockedPair, lockPair } from '../db/repositories/pairs.js';
import type { Community } from '../db/repositories/users.js';
import { type ConnectionAction, type ConnectionStatus, pairStateOf, plan } from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';
import { executePlan } from './effects.js';
import type { Transaction } from './transaction.js';

const tooManyPending = ({ maxPendingRequests }: ActLimits) =>
  new AppError(
    400,
    'too_many_pending_requests',
    `You have ${maxPendingRequests} connection requests waiting for an answer: cancel some before sending more.`,
  );

export interface ActLimits {
  /** Pending outgoing requests a member may have (those the other side rejected count: I am never told); 0: no cap. */
  maxPendingRequests: number;
}

/**
 * What the caller decides on the acting member as the move's first statement found them (undefined:
 * missing or inactive), before the move is planned: the HTTP gate (`admitFound`) and the route's own
 * limits. Throws to refuse; the transaction then ends without a write.
 */
export type Admit = (found: { community: Community; tokens_not_before: number } | undefined) => Promise<void>;

/**
 * Applies one friendship action of `me` towards `them` in one transaction of four round trips: BEGIN,
 * one statement that locks both members and loads them and the pair (`lockPair`), the plan of the state
 * machine, one statement that writes it (rows, both members' counters and JSON, the event, its
 * deliveries and notification: `executePlan`), COMMIT. A move that would add a request to the
 * `maxPendingRequests` `me` has waiting is refused (400 `too_many_pending_requests`).
 */
export function act(
  db: Database,
  me: number,
  them: number,
  action: ConnectionAction,
  limits: ActLimits,
  admit: Admit,
): Promise<ConnectionStatus> {
  return move(db, me, them, () => action, limits, admit);
}

/**
 * Hides them from me, or shows them again when I hide them already (`POST /user/{id}/hide/`): the
 * `user_hides` row, and their waiting request to me taken out of my sight or brought back, in the
 * transaction and under the locks of every other move of the pair (see `plan`'s 'hide'/'unhide').
 * Returns whether I hide them now.
 */
export async function toggleHide(db: Database, me: number, them: number, admit: Admit): Promise<boolean> {
  let hidden = false;
  await move(
    db,
    me,
    them,
    (locked) => {
      hidden = !locked.hides.byMe;
      return hidden ? 'hide' : 'unhide';
    },
    { maxPendingRequests: 0 },
    admit,
  );
  return hidden;
}

/**
 * Opens the transaction of a move of the pair: locks and loads it (`lockPair`), lets `admit` decide
 * on the acting member, refuses a move towards oneself or a member who is not active, and hands the
 * pair, as it stands under the locks, to `decide`.
 */
export function movePair<T>(
  db: Database,
  me: number,
  them: number,
  admit: Admit,
  decide: (tx: Transaction, locked: LockedPair) => Promise<T>,
): Promise<T> {
  return retryingDeadlocks(() =>
    db.transaction().execute(async (tx) => {
      let locked = await lockPair(tx, me, them);
      const member = locked.members.get(me);
      await admit(
        member?.is_active ? { community: locked.community, tokens_not_before: member.tokens_not_before } : undefined,
      );
      if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
      if (!locked.members.get(them)?.is_active) throw notFound('User not found.');
      // A move of the pair committed while this one waited for the locks: read the pair again, under them.
      if (locked.stale) locked = await lockPair(tx, me, them);
      return decide(tx, locked);
    }),
  );
}

/** How many times a move PostgreSQL chose as a deadlock's victim is run again. */
const DEADLOCK_RETRIES = 3;

/**
 * Runs a move's transaction again when PostgreSQL broke a deadlock by aborting it (40P01: nothing
 * of it was written). The long fuzz found one: two moves sharing a member, in four lanes at once,
 * locking users rows (the members' and, through the version triggers, the pair's) in an order that
 * could cross; the client got a 500. A victim tried again finds the locks free.
 */
async function retryingDeadlocks<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if ((error as { code?: unknown }).code !== '40P01' || attempt > DEADLOCK_RETRIES) throw error;
    }
  }
}

/** One move of the pair: lock and load it, let `choose` pick the action, plan it and execute the plan. */
function move(
  db: Database,
  me: number,
  them: number,
  choose: (locked: LockedPair) => ConnectionAction,
  limits: ActLimits,
  admit: Admit,
): Promise<ConnectionStatus> {
  return movePair(db, me, them, admit, async (tx, locked) => {
    const decided = plan(pairStateOf(me, locked), choose(locked), { me, them }, locked.hides);
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    // My row is locked: the counter cannot move under this check.
    const sent = locked.members.get(me)?.requests_sent_count ?? 0;
    if (limits.maxPendingRequests > 0 && sent >= limits.maxPendingRequests) {
      if (decided.effects.some((effect) => effect.kind === 'insert_request')) throw tooManyPending(limits);
    }
    await executePlan(tx, decided.effects, { me, them, locked });
    return decided.status;
  });
}
