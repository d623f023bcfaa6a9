import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/connections.js';
import { type ConnectionAction, type ConnectionStatus, pairStateOf, plan } from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';
import { executePlan } from './effects.js';

/**
 * Applies one friendship action of `me` towards `them` in one transaction: both users' rows are
 * locked, the state machine plans the move, and its effects (rows, both users' counters, the event
 * and its notification) are executed together, in the plan's order.
 */
export function act(db: Database, me: number, them: number, action: ConnectionAction): Promise<ConnectionStatus> {
  return move(db, me, them, () => action);
}

/**
 * Hides them from me, or shows them again when I hide them already (`POST /user/{id}/hide/`): the
 * `user_hides` row, and their waiting request to me taken out of my sight or brought back, in the
 * transaction and under the locks of every other move of the pair (see `plan`'s 'hide'/'unhide').
 * Returns whether I hide them now.
 */
export async function toggleHide(db: Database, me: number, them: number): Promise<boolean> {
  let hidden = false;
  await move(db, me, them, (rows) => {
    hidden = !rows.hides.byMe;
    return hidden ? 'hide' : 'unhide';
  });
  return hidden;
}

/** One move of the pair: lock both, load the rows, let `choose` pick the action, plan it and execute the plan. */
async function move(
  db: Database,
  me: number,
  them: number,
  choose: (rows: repo.PairRows) => ConnectionAction,
): Promise<ConnectionStatus> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await repo.lockPair(tx, me, them);
    if (!active.has(them)) throw notFound('User not found.');
    const rows = await repo.loadPair(tx, me, them);
    const decided = plan(pairStateOf(me, rows), choose(rows), { me, them }, rows.hides);
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    await executePlan(tx, decided.effects, { me, them, requestId: rows.request?.id });
    return decided.status;
  });
}
