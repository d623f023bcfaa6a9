/**
 * Following, seen from the follower's side ("me" towards "them"). Pure: no I/O. One action,
 * `follow`, toggles (`user/follow_user.md`: "If a user already follows the user, it will be
 * unfollowed"); `plan` returns the next state and the effects, in the same closed list the
 * friendship plan uses (effects.ts).
 */
import type { Effect } from './effects.js';

export const FOLLOW_STATES = ['none', 'following'] as const;
export type FollowState = (typeof FOLLOW_STATES)[number];

export const FOLLOW_ACTIONS = ['follow'] as const;
export type FollowAction = (typeof FOLLOW_ACTIONS)[number];

/** connection_status in follow mode: `followed` when I follow them. */
export type FollowStatus = 'followed' | null;

export type FollowPlan =
  | { ok: true; next: FollowState; status: FollowStatus; effects: Effect[] }
  | { ok: false; reason: string };

export function followStatusOf(state: FollowState): FollowStatus {
  return state === 'following' ? 'followed' : null;
}

/** Decides an action of `me` towards `them`: a follow when I do not follow them, an unfollow when I do. */
export function planFollow(state: FollowState, action: FollowAction, pair: { me: number; them: number }): FollowPlan {
  switch (action) {
    case 'follow': {
      const { me, them } = pair;
      if (state === 'none') {
        return {
          ok: true,
          next: 'following',
          status: 'followed',
          effects: [
            { kind: 'insert_follow' },
            { kind: 'counters', me: { followings: 1 }, them: { followers: 1 } },
            {
              kind: 'event',
              event: {
                type: 'connection.follow',
                from: me,
                to: them,
                notification: { type: 'user_follow', recipient: them, actor: me },
              },
            },
          ],
        };
      }
      return {
        ok: true,
        next: 'none',
        status: null,
        effects: [
          { kind: 'withdraw_follow_notification' },
          { kind: 'delete_follow' },
          { kind: 'counters', me: { followings: -1 }, them: { followers: -1 } },
          { kind: 'event', event: { type: 'connection.unfollow', from: me, to: them } },
        ],
      };
    }
  }
}
