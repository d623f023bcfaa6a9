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
export async function act(
  db: Database,
  me: number,
  them: number,
  action: ConnectionAction,
  limits: ActLimits,
): Promise<ConnectionStatus> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await repo.lockPair(tx, me, them);
    if (!active.has(them)) throw notFound('User not found.');
    const rows = await repo.loadPair(tx, me, them);
    const decided = plan(pairStateOf(me, rows), action, { me, them });
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
