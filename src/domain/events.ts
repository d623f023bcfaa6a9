import type { PairState } from './connection-state.js';

export const CONNECTION_EVENT_TYPES = [
  'connection_request.created',
  'connection_request.rejected',
  'connection_request.restored',
  'connection_request.cancelled',
  'connection.created',
  'connection.deleted',
  'connection.follow',
  'connection.unfollow',
] as const;

export type ConnectionEventType = (typeof CONNECTION_EVENT_TYPES)[number];

/**
 * The user events of SelfCommunity's list that kith produces (webhooks only: nobody is notified).
 * `user.settings_updated`, `user.score_updated` and `user.loyalty_points_updated` are not produced.
 */
export const USER_EVENT_TYPES = ['user.created', 'user.updated', 'user.deleted'] as const;

export type UserEventType = (typeof USER_EVENT_TYPES)[number];

/** Every event type kith produces: what a webhook endpoint may subscribe to. */
export const EVENT_TYPES = [...CONNECTION_EVENT_TYPES, ...USER_EVENT_TYPES] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The notification types kith makes (the `notifications.type` CHECK of migration 0009 lists the same). */
export const NOTIFICATION_TYPES = [
  'connection_request',
  'connection_accept',
  'connection_cancel_request',
  'connection_remove',
  'user_follow',
] as const;

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** The user field each notification type carries, as SelfCommunity's clients read it. */
export const NOTIFICATION_USER_FIELD: Record<NotificationType, string> = {
  connection_request: 'request_user',
  connection_accept: 'accept_user',
  connection_cancel_request: 'cancel_request_user',
  connection_remove: 'remove_user',
  user_follow: 'follower',
};

export interface GraphEvent {
  type: ConnectionEventType;
  /** The user who sent the request (connection.deleted: who removed the connection; follows: the follower). */
  from: number;
  /** The request's recipient (connection.deleted: the other side; follows: the followed member). */
  to: number;
  /** Who is told, about whom. */
  notification?: { type: NotificationType; recipient: number; actor: number };
}

/**
 * What a change of a pair means to the rest of the world, from the actor's ("me") side. Pure.
 * A rejection and a restored rejection are silent for the sender: they never learn of either.
 * Hiding is between a member and kith: a hide or an unhide is no event, and a request that waits
 * out of its recipient's sight (withheld) tells its recipient nothing, made or withdrawn.
 */
export function eventFor(me: number, them: number, from: PairState, next: PairState): GraphEvent | undefined {
  if (from === next) return undefined;
  switch (next) {
    case 'sent_withheld':
      return { type: 'connection_request.created', from: me, to: them };
    case 'sent_pending':
      return {
        type: 'connection_request.created',
        from: me,
        to: them,
        notification: { type: 'connection_request', recipient: them, actor: me },
      };
    case 'connected':
      return {
        type: 'connection.created',
        from: them,
        to: me,
        notification: { type: 'connection_accept', recipient: them, actor: me },
      };
    case 'received_rejected':
      return { type: 'connection_request.rejected', from: them, to: me };
    case 'received_pending':
    case 'received_withheld':
      // A hide or an unhide moves a waiting request between withheld and pending: no event.
      if (from === 'received_pending' || from === 'received_withheld') return undefined;
      return { type: 'connection_request.restored', from: them, to: me };
    case 'none':
      if (from === 'connected') {
        return {
          type: 'connection.deleted',
          from: me,
          to: them,
          notification: { type: 'connection_remove', recipient: them, actor: me },
        };
      }
      return {
        type: 'connection_request.cancelled',
        from: me,
        to: them,
        // Withdrawing a request they had already rejected tells them nothing new.
        ...(from === 'sent_pending'
          ? { notification: { type: 'connection_cancel_request' as const, recipient: them, actor: me } }
          : {}),
      };
    case 'sent_rejected':
      return undefined;
  }
}
