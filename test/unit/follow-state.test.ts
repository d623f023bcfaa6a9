import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FOLLOW_ACTIONS, FOLLOW_STATES, followStatusOf, planFollow } from '../../src/domain/follow-state.js';

const ME = 3;
const THEM = 8;

/** Every (state, action) with its next state, my status and its effects, from `user/follow_user.md` and the issue. */
const TABLE = {
  'none/follow': {
    next: 'following',
    status: 'followed',
    effects: [
      { kind: 'insert_follow' },
      { kind: 'counters', me: { followings: 1 }, them: { followers: 1 } },
      {
        kind: 'event',
        event: {
          type: 'connection.follow',
          from: ME,
          to: THEM,
          notification: { type: 'user_follow', recipient: THEM, actor: ME },
        },
      },
    ],
  },
  // Following already: the same press unfollows, and takes an unread notification of the follow away.
  'following/follow': {
    next: 'none',
    status: null,
    effects: [
      { kind: 'withdraw_follow_notification' },
      { kind: 'delete_follow' },
      { kind: 'counters', me: { followings: -1 }, them: { followers: -1 } },
      { kind: 'event', event: { type: 'connection.unfollow', from: ME, to: THEM } },
    ],
  },
} as const;

for (const state of FOLLOW_STATES) {
  for (const action of FOLLOW_ACTIONS) {
    test(`${action} from ${state}`, () => {
      const expected = TABLE[`${state}/${action}`];
      assert.deepEqual(planFollow(state, action, { me: ME, them: THEM }), { ok: true, ...expected });
    });
  }
}

test('followStatusOf: followed only while I follow them', () => {
  assert.equal(followStatusOf('following'), 'followed');
  assert.equal(followStatusOf('none'), null);
});

test('two presses come back to where they started, counters included', () => {
  for (const start of FOLLOW_STATES) {
    const first = planFollow(start, 'follow', { me: ME, them: THEM });
    assert.ok(first.ok);
    const second = planFollow(first.next, 'follow', { me: ME, them: THEM });
    assert.ok(second.ok);
    assert.equal(second.next, start);
    const sum = (key: 'followers' | 'followings', side: 'me' | 'them') =>
      [first, second]
        .flatMap((p) => (p.ok ? p.effects : []))
        .reduce((total, e) => total + (e.kind === 'counters' ? (e[side][key] ?? 0) : 0), 0);
    assert.equal(sum('followings', 'me'), 0);
    assert.equal(sum('followers', 'them'), 0);
  }
});
