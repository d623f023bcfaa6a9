import * as connections from '../db/repositories/connections.js';
import * as follows from '../db/repositories/follows.js';
import * as hides from '../db/repositories/hides.js';
import { deleteRequestNotification, deleteUnreadFollowNotification } from '../db/repositories/notifications.js';
import type { Effect } from '../domain/effects.js';
import { recordEvent } from '../events/outbox.js';
import type { Transaction } from './transaction.js';

/** The pair a plan's effects act on; `requestId` is the pair's connection request as it stands. */
export interface EffectPair {
  me: number;
  them: number;
  requestId: number | undefined;
}

/**
 * Executes one effect of a plan (connection-state.ts, follow-state.ts), in the caller's
 * transaction; returns the pair's request id as it is afterwards. The one switch over effect
 * kinds: services run plans through it and know nothing about states.
 */
export async function executeEffect(tx: Transaction, effect: Effect, pair: EffectPair): Promise<number | undefined> {
  const { me, them, requestId } = pair;
  const request = () => {
    // The plan asks for the request only in states that have one (locked and loaded before).
    if (requestId === undefined) throw new Error(`effect ${effect.kind} without the pair's request`);
    return requestId;
  };
  switch (effect.kind) {
    case 'insert_request':
      return (await connections.insertRequest(tx, me, them, effect.withheld)).id;
    case 'delete_request':
      await connections.deleteRequest(tx, request());
      return requestId;
    case 'set_rejected':
      await connections.setRejected(tx, request(), effect.rejected);
      return requestId;
    case 'set_withheld':
      await connections.setWithheld(tx, request(), effect.withheld);
      return requestId;
    case 'insert_hide':
      await hides.insertHide(tx, me, them);
      return requestId;
    case 'delete_hide':
      await hides.deleteHide(tx, me, them);
      return requestId;
    case 'mark_viewed':
      await connections.markViewed(tx, request());
      return requestId;
    case 'insert_connection':
      await connections.insertConnection(tx, me, them);
      return requestId;
    case 'delete_connection':
      await connections.deleteConnection(tx, me, them);
      return requestId;
    case 'withdraw_request_notification':
      await deleteRequestNotification(tx, request());
      return requestId;
    case 'insert_follow':
      await follows.insertFollow(tx, me, them);
      return requestId;
    case 'delete_follow':
      await follows.deleteFollow(tx, me, them);
      return requestId;
    case 'withdraw_follow_notification':
      await deleteUnreadFollowNotification(tx, them, me);
      return requestId;
    case 'counters':
      await connections.addToCounters(tx, [
        { userId: me, delta: effect.me },
        { userId: them, delta: effect.them },
      ]);
      return requestId;
    case 'event':
      await recordEvent(tx, effect.event, requestId);
      return requestId;
  }
}

/** Executes a plan's effects in order. */
export async function executePlan(tx: Transaction, effects: readonly Effect[], pair: EffectPair) {
  let requestId = pair.requestId;
  for (const effect of effects) requestId = await executeEffect(tx, effect, { ...pair, requestId });
}
