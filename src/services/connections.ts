import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/connections.js';
import { type ConnectionAction, type ConnectionStatus, pairStateOf, plan } from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';
import { executePlan } from './effects.js';

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
 * Applies one friendship action of `me` towards `them` in one transaction: both users' rows are
 * locked, the state machine plans the move, and its effects (rows, both users' counters, the event
 * and its notification) are executed together, in the plan's order. A move that would add a request
 * to the `maxPendingRequests` `me` has waiting is refused (400 `too_many_pending_requests`).
 */
export function act(
  db: Database,
  me: number,
  them: number,
  action: ConnectionAction,
  limits: ActLimits,
): Promise<ConnectionStatus> {
  return move(db, me, them, () => action, limits);
}

/**
 * Hides them from me, or shows them again when I hide them already (`POST /user/{id}/hide/`): the
 * `user_hides` row, and their waiting request to me taken out of my sight or brought back, in the
 * transaction and under the locks of every other move of the pair (see `plan`'s 'hide'/'unhide').
 * Returns whether I hide them now.
 */
export async function toggleHide(db: Database, me: number, them: number): Promise<boolean> {
  let hidden = false;
  await move(
    db,
    me,
    them,
    (rows) => {
      hidden = !rows.hides.byMe;
      return hidden ? 'hide' : 'unhide';
    },
    { maxPendingRequests: 0 },
  );
  return hidden;
}

/** One move of the pair: lock both, load the rows, let `choose` pick the action, plan it and execute the plan. */
async function move(
  db: Database,
  me: number,
  them: number,
  choose: (rows: repo.PairRows) => ConnectionAction,
  limits: ActLimits,
): Promise<ConnectionStatus> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await repo.lockPair(tx, me, them);
    if (!active.has(them)) throw notFound('User not found.');
    const rows = await repo.loadPair(tx, me, them);
    const decided = plan(pairStateOf(me, rows), choose(rows), { me, them }, rows.hides);
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    // My row is locked: the counter cannot move under this check.
    const sent = active.get(me)?.requests_sent_count ?? 0;
    if (limits.maxPendingRequests > 0 && sent >= limits.maxPendingRequests) {
      if (decided.effects.some((effect) => effect.kind === 'insert_request')) throw tooManyPending(limits);
    }
    await executePlan(tx, decided.effects, { me, them, requestId: rows.request?.id });
    return decided.status;
  });
}
