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
import { eventFor } from '../domain/events.js';
import { recordEvent } from '../events/outbox.js';

export interface ActionResult {
  status: ConnectionStatus;
  changed: boolean;
}

/**
 * Applies one friendship action of `me` towards `them` in one transaction: both users' rows are
 * locked, the state machine decides, the rows, both users' counters and the event change together.
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
      let requestId = request?.id;
      switch (next) {
        case 'sent_pending':
          requestId = (await repo.insertRequest(tx, me, them)).id;
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
      // No change without its event: the event log is written in this same transaction.
      const event = eventFor(me, them, state, next);
      if (event) await recordEvent(tx, event, requestId);
    }
    return { status: statusOf(next), changed: result.changed };
  });
}
