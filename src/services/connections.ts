import type { Database } from '../db/database.js';
import { type Executor, type LockedPair, loadPair, lockPair } from '../db/repositories/pairs.js';
import type { Community } from '../db/repositories/users.js';
import { type ConnectionAction, type ConnectionStatus, pairStateOf, plan } from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';
import { executePlan, PairChanged } from './effects.js';

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
 * Moves of a pair whose optimistic write found a member changed since the load and that were made
 * again under the locks, in this process (`kith_pair_move_conflicts_total`).
 */
export const moveConflicts = { count: 0 };

/** How a move is made: optimistic first (`movePair`), or at once as after a conflict (tests of that path). */
export interface MoveOptions {
  underLocks?: boolean;
}

/**
 * Applies one friendship action of `me` towards `them` (see `movePair`: two round trips, six when
 * the pair changed meanwhile). A move that would add a request to the `maxPendingRequests` `me` has
 * waiting is refused (400 `too_many_pending_requests`).
 */
export function act(
  db: Database,
  me: number,
  them: number,
  action: ConnectionAction,
  limits: ActLimits,
  admit: Admit,
  options: MoveOptions = {},
): Promise<ConnectionStatus> {
  return move(db, me, them, () => action, limits, admit, options);
}

/**
 * Hides them from me, or shows them again when I hide them already (`POST /user/{id}/hide/`): the
 * `user_hides` row, and their waiting request to me taken out of my sight or brought back, in the
 * statement and under the locks of every other move of the pair (see `plan`'s 'hide'/'unhide').
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
 * Makes a move of the pair: loads it, lets `admit` decide on the acting member, refuses a move
 * towards oneself or a member who is not active, and hands the pair to `decide`, whose write
 * (`executePlan`) is atomic with what it decided on. Optimistic first, in two round trips and no
 * transaction: the pair loaded from one snapshot (`loadPair`), then one statement that locks both
 * members and writes the plan only if neither changed since. When one did (a move of either member
 * committed in between: `PairChanged`, nothing written), the move is made again in a transaction
 * under the locks (`lockPair`: BEGIN, lock and load, write, COMMIT), where it cannot lose again.
 */
export function movePair<T>(
  db: Database,
  me: number,
  them: number,
  admit: Admit,
  decide: (db: Executor, pair: LockedPair) => Promise<T>,
  { underLocks = false }: MoveOptions = {},
): Promise<T> {
  const decideOn = async (executor: Executor, pair: LockedPair) => {
    const member = pair.members.get(me);
    await admit(
      member?.is_active ? { community: pair.community, tokens_not_before: member.tokens_not_before } : undefined,
    );
    if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
    if (!pair.members.get(them)?.is_active) throw notFound('User not found.');
    // A move of the pair committed while this one waited for the locks: read the pair again, under them.
    return decide(executor, pair.stale ? await lockPair(executor, me, them) : pair);
  };
  return retryingDeadlocks(async () => {
    if (!underLocks) {
      try {
        return await decideOn(db, await loadPair(db, me, them));
      } catch (error) {
        if (!(error instanceof PairChanged)) throw error;
        moveConflicts.count += 1;
      }
    }
    return db.transaction().execute(async (tx) => decideOn(tx, await lockPair(tx, me, them)));
  });
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

/** One move of the pair: load it, let `choose` pick the action, plan it and execute the plan. */
function move(
  db: Database,
  me: number,
  them: number,
  choose: (locked: LockedPair) => ConnectionAction,
  limits: ActLimits,
  admit: Admit,
  options: MoveOptions = {},
): Promise<ConnectionStatus> {
  return movePair(
    db,
    me,
    them,
    admit,
    async (executor, locked) => {
      const decided = plan(pairStateOf(me, locked), choose(locked), { me, them }, locked.hides);
      if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
      // My row is locked, or the write checks it did not change: the counter cannot move under this check.
      const sent = locked.members.get(me)?.requests_sent_count ?? 0;
      if (limits.maxPendingRequests > 0 && sent >= limits.maxPendingRequests) {
        if (decided.effects.some((effect) => effect.kind === 'insert_request')) throw tooManyPending(limits);
      }
      await executePlan(executor, decided.effects, { me, them, locked });
      return decided.status;
    },
    options,
  );
}
