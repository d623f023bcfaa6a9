import type { GraphEvent } from './events.js';

/** How one user's counters change: only the counters named change. */
export type UserCounterDelta = Partial<
  Record<'connections' | 'sent' | 'received' | 'followers' | 'followings', number>
>;

/**
 * One thing a move of a pair does, in the order the service must do it: the closed list every
 * relationship's plan (connections: connection-state.ts, follows: follow-state.ts) is made of.
 * "The request" is the pair's one connection request row (loaded with the state, or the one
 * `insert_request` made); requests, connections and follows are always between me (the actor) and
 * them, a follow from me to them.
 */
export type Effect =
  /** A withheld request waits out of its recipient's sight: they hide its sender (migration 0013). */
  | { kind: 'insert_request'; withheld: boolean }
  | { kind: 'delete_request' }
  | { kind: 'set_rejected'; rejected: boolean }
  | { kind: 'set_withheld'; withheld: boolean }
  | { kind: 'mark_viewed' }
  | { kind: 'insert_connection' }
  | { kind: 'delete_connection' }
  /** The request's `connection_request` notification goes (a withdrawn request). */
  | { kind: 'withdraw_request_notification' }
  /** I hide them (`user_hides`), or show them again. */
  | { kind: 'insert_hide' }
  | { kind: 'delete_hide' }
  | { kind: 'insert_follow' }
  | { kind: 'delete_follow' }
  /** The unread `user_follow` notification of my follow goes (an unfollow); a read one stays as history. */
  | { kind: 'withdraw_follow_notification' }
  | { kind: 'counters'; me: UserCounterDelta; them: UserCounterDelta }
  /** The event row, its webhook deliveries and its notification, in the same transaction. */
  | { kind: 'event'; event: GraphEvent };

/**
 * The same effects with nobody notified: the event rows and their webhook deliveries stay. For the
 * moves that dissolve a deleted member's relations, which nobody is told about by a member who is gone.
 */
export function withoutNotifications(effects: readonly Effect[]): Effect[] {
  return effects.map((effect) => {
    if (effect.kind !== 'event' || !effect.event.notification) return effect;
    const { notification, ...event } = effect.event;
    return { ...effect, event };
  });
}
