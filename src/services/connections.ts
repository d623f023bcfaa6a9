import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/connections.js';
import {
  type ConnectionAction,
  type ConnectionStatus,
  counterDeltas,
  statusOf,
  transition,
} from '../domain/connection-state.js';
import { AppError, notFound } from '../domain/errors.js';

export interface ActionResult {
  status: ConnectionStatus;
  changed: boolean;
}

/**
 * Applies one friendship action of `me` towards `them` in one transaction: both users' rows are
 * locked, the state machine decides, the rows and both users' counters change together.
 */
export async function act(db: Database, me: number, them: number, action: ConnectionAction): Promise<ActionResult> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await repo.lockPair(tx, me, them);
    if (!active.has(them)) throw notFound('User not found.');
    const { state, request } = await repo.loadPair(tx, me, them);
    const result = transition(state, action);
    if (!result.ok) throw new AppError(400, 'invalid_connection_action', result.reason);
    const next = result.next;

    if (action === 'mark_seen' && request) await repo.markViewed(tx, request.id);
    if (result.changed) {
      switch (next) {
        case 'sent_pending':
          await repo.insertRequest(tx, me, them);
          break;
        case 'connected':
          if (request) await repo.deleteRequest(tx, request.id);
          await repo.insertConnection(tx, me, them);
          break;
        case 'received_rejected':
        case 'received_pending':
          if (request) await repo.setRejected(tx, request.id, next === 'received_rejected');
          break;
        case 'none':
          if (state === 'connected') await repo.deleteConnection(tx, me, them);
          else if (request) await repo.deleteRequest(tx, request.id);
          break;
        case 'sent_rejected':
          throw new Error('no action moves a pair to sent_rejected from my side');
      }
      const deltas = counterDeltas(state, next);
      await repo.addToCounters(tx, me, deltas.me);
      await repo.addToCounters(tx, them, deltas.them);
    }
    return { status: statusOf(next), changed: result.changed };
  });
}
