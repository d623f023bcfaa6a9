import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/connections.js';
import { deleteRequestNotification } from '../db/repositories/notifications.js';
import { type ConnectionAction, type ConnectionStatus, type Effect, plan } from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';
import { recordEvent } from '../events/outbox.js';

type Transaction = Parameters<Parameters<ReturnType<Database['transaction']>['execute']>[0]>[0];

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
    const { state, request } = await repo.loadPair(tx, me, them);
    const decided = plan(state, action, { me, them });
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    let requestId = request?.id;
    for (const effect of decided.effects) requestId = await execute(tx, effect, { me, them, requestId });
    return decided.status;
  });
}

/** Executes one effect; returns the pair's request id as it is afterwards. */
async function execute(
  tx: Transaction,
  effect: Effect,
  pair: { me: number; them: number; requestId: number | undefined },
): Promise<number | undefined> {
  const { me, them, requestId } = pair;
  const request = () => {
    // The plan asks for the request only in states that have one (locked and loaded above).
    if (requestId === undefined) throw new Error(`effect ${effect.kind} without the pair's request`);
    return requestId;
  };
  switch (effect.kind) {
    case 'insert_request':
      return (await repo.insertRequest(tx, me, them)).id;
    case 'delete_request':
      await repo.deleteRequest(tx, request());
      return requestId;
    case 'set_rejected':
      await repo.setRejected(tx, request(), effect.rejected);
      return requestId;
    case 'mark_viewed':
      await repo.markViewed(tx, request());
      return requestId;
    case 'insert_connection':
      await repo.insertConnection(tx, me, them);
      return requestId;
    case 'delete_connection':
      await repo.deleteConnection(tx, me, them);
      return requestId;
    case 'withdraw_request_notification':
      await deleteRequestNotification(tx, request());
      return requestId;
    case 'counters':
      await repo.addToCounters(tx, [
        { userId: me, delta: effect.me },
        { userId: them, delta: effect.them },
      ]);
      return requestId;
    case 'event':
      await recordEvent(tx, effect.event, requestId);
      return requestId;
  }
}
