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
export async function act(db: Database, me: number, them: number, action: ConnectionAction): Promise<ConnectionStatus> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await repo.lockPair(tx, me, them);
    if (!active.has(them)) throw notFound('User not found.');
    const rows = await repo.loadPair(tx, me, them);
    const decided = plan(pairStateOf(me, rows), action, { me, them });
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    await executePlan(tx, decided.effects, { me, them, requestId: rows.request?.id });
    return decided.status;
  });
}
