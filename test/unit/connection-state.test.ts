import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConnectionAction,
  type ConnectionStatus,
  counterDeltas,
  type Effect,
  mirror,
  type PairHides,
  type PairState,
  pairStateOf,
  plan,
  statusOf,
  transition,
} from '../../src/domain/connection-state.js';

const STATES: PairState[] = [
  'none',
  'sent_pending',
  'sent_rejected',
  'sent_withheld',
  'received_pending',
  'received_rejected',
  'received_withheld',
  'connected',
];
const ACTIONS: ConnectionAction[] = [
  'request',
  'accept',
  'reject',
  'cancel_reject',
  'cancel_request',
  'remove',
  'mark_seen',
  'hide',
  'unhide',
];

/**
 * Who hides whom in each state of the tables below: nobody, except where the state says so (a
 * withheld request waits because its recipient hides its sender). The moves that depend on hides
 * beyond that have their own table (HIDDEN).
 */
const HIDES_OF = (state: PairState): PairHides => ({
  byMe: state === 'received_withheld',
  byThem: state === 'sent_withheld',
});

/** The expected outcome of every (state, action) pair, written from the action list. 'refuse' = 400. */
const EXPECTED: Record<ConnectionAction, Record<PairState, PairState | 'refuse'>> = {
  // nothing -> pending; their request (pending, rejected by me or hidden from me) -> connected; otherwise no change.
  request: {
    none: 'sent_pending',
    sent_pending: 'sent_pending',
    sent_rejected: 'sent_rejected',
    sent_withheld: 'sent_withheld',
    received_pending: 'connected',
    received_rejected: 'connected',
    received_withheld: 'connected',
    connected: 'connected',
  },
  // their request (pending, one I rejected, one hidden from me) -> connected; connected stays; anything else 400.
  accept: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    sent_withheld: 'refuse',
    received_pending: 'connected',
    received_rejected: 'connected',
    received_withheld: 'connected',
    connected: 'connected',
  },
  // their waiting request (hidden from me or not) -> rejected; already rejected stays; anything else 400.
  reject: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    sent_withheld: 'refuse',
    received_pending: 'received_rejected',
    received_rejected: 'received_rejected',
    received_withheld: 'received_rejected',
    connected: 'refuse',
  },
  // a request of theirs I rejected -> pending again; already waiting stays; anything else 400.
  cancel_reject: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    sent_withheld: 'refuse',
    received_pending: 'received_pending',
    received_rejected: 'received_pending',
    received_withheld: 'received_withheld',
    connected: 'refuse',
  },
  // my request (pending, rejected or hidden from them) -> deleted; nothing stays nothing; connected or their request: 400.
  cancel_request: {
    none: 'none',
    sent_pending: 'none',
    sent_rejected: 'none',
    sent_withheld: 'none',
    received_pending: 'refuse',
    received_rejected: 'refuse',
    received_withheld: 'refuse',
    connected: 'refuse',
  },
  // connected -> nothing; nothing stays; a request either way (a rejected one included, which the
  // sender cannot tell from a pending one): 400.
  remove: {
    none: 'none',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    sent_withheld: 'refuse',
    received_pending: 'refuse',
    received_rejected: 'refuse',
    received_withheld: 'refuse',
    connected: 'none',
  },
  // their request to me (pending, rejected, hidden): no state change (only `viewed`); no request from them: 400.
  mark_seen: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    sent_withheld: 'refuse',
    received_pending: 'received_pending',
    received_rejected: 'received_rejected',
    received_withheld: 'received_withheld',
    connected: 'refuse',
  },
  // hiding them takes their waiting request out of my sight; nothing else changes; never refused.
  hide: {
    none: 'none',
    sent_pending: 'sent_pending',
    sent_rejected: 'sent_rejected',
    sent_withheld: 'sent_withheld',
    received_pending: 'received_withheld',
    received_rejected: 'received_rejected',
    received_withheld: 'received_withheld',
    connected: 'connected',
  },
  // showing them again brings their waiting request back; nothing else changes; never refused.
  unhide: {
    none: 'none',
    sent_pending: 'sent_pending',
    sent_rejected: 'sent_rejected',
    sent_withheld: 'sent_withheld',
    received_pending: 'received_pending',
    received_rejected: 'received_rejected',
    received_withheld: 'received_pending',
    connected: 'connected',
  },
};

/** The moves that depend on who hides whom beyond the state: [state, action, hides, next]. */
const HIDDEN: Array<[PairState, ConnectionAction, PairHides, PairState]> = [
  // they hide me: my new request waits out of their sight (to me it looks like any request)
  ['none', 'request', { byMe: false, byThem: true }, 'sent_withheld'],
  // my hiding them does not change my request
  ['none', 'request', { byMe: true, byThem: false }, 'sent_pending'],
  // I hide them: their request I stop rejecting waits out of my sight
  ['received_rejected', 'cancel_reject', { byMe: true, byThem: false }, 'received_withheld'],
  ['received_rejected', 'cancel_reject', { byMe: false, byThem: true }, 'received_pending'],
  // hiding a member who hides me, or showing again one I hide with my request waiting: mine is unchanged
  ['sent_withheld', 'hide', { byMe: false, byThem: true }, 'sent_withheld'],
  ['sent_pending', 'unhide', { byMe: true, byThem: false }, 'sent_pending'],
];

describe('transition() covers every (state, action) pair', () => {
  for (const action of ACTIONS) {
    for (const state of STATES) {
      const expected = EXPECTED[action][state];
      test(`${action} from ${state} -> ${expected}`, () => {
        const result = transition(state, action, HIDES_OF(state));
        if (expected === 'refuse') {
          assert.equal(result.ok, false);
          if (!result.ok) {
            assert.equal(typeof result.reason, 'string');
            assert.ok(result.reason.length > 10, 'a refusal carries a human sentence');
          }
        } else {
          assert.deepEqual(result, { ok: true, next: expected });
        }
      });
    }
  }

  for (const [state, action, hides, expected] of HIDDEN) {
    test(`${action} from ${state} with hides ${JSON.stringify(hides)} -> ${expected}`, () => {
      assert.deepEqual(transition(state, action, hides), { ok: true, next: expected });
    });
  }

  test('no action ever leads to sent_rejected (only the other side can reject)', () => {
    for (const action of ACTIONS)
      for (const state of STATES)
        for (const hides of EVERY_HIDES) {
          const result = transition(state, action, hides);
          if (result.ok && result.next !== state) assert.notEqual(result.next, 'sent_rejected');
        }
  });

  test('no action makes my request withheld unless they hide me, nor theirs unless I hide them (or do now)', () => {
    for (const action of ACTIONS)
      for (const state of STATES)
        for (const hides of EVERY_HIDES) {
          const result = transition(state, action, hides);
          if (!result.ok || result.next === state) continue;
          if (result.next === 'sent_withheld') assert.equal(hides.byThem, true, `${action} from ${state}`);
          if (result.next === 'received_withheld') {
            assert.equal(hides.byMe || action === 'hide', true, `${action} from ${state}`);
          }
        }
  });
});

const EVERY_HIDES: PairHides[] = [
  { byMe: false, byThem: false },
  { byMe: true, byThem: false },
  { byMe: false, byThem: true },
  { byMe: true, byThem: true },
];

/** The status table: [my status, their status] for each state as I see it. */
const STATUS: Record<PairState, [ConnectionStatus, ConnectionStatus]> = {
  none: [null, null],
  sent_pending: ['sent_connection_request', 'received_connection_request'],
  // a rejection is never shown to its sender
  sent_rejected: ['sent_connection_request', null],
  // a member who hides me does not show me that; my request is not shown to them
  sent_withheld: ['sent_connection_request', null],
  received_pending: ['received_connection_request', 'sent_connection_request'],
  received_rejected: [null, 'sent_connection_request'],
  received_withheld: [null, 'sent_connection_request'],
  connected: ['connected', 'connected'],
};

describe('statusOf() and mirror()', () => {
  for (const state of STATES) {
    test(`${state}: I see ${STATUS[state][0]}, they see ${STATUS[state][1]}`, () => {
      assert.equal(statusOf(state), STATUS[state][0]);
      assert.equal(statusOf(mirror(state)), STATUS[state][1]);
    });
  }

  test('mirror() is an involution that swaps the sides', () => {
    assert.deepEqual(STATES.map(mirror), [
      'none',
      'received_pending',
      'received_rejected',
      'received_withheld',
      'sent_pending',
      'sent_rejected',
      'sent_withheld',
      'connected',
    ]);
    for (const state of STATES) assert.equal(mirror(mirror(state)), state);
  });
});

/**
 * What each state contributes to [my counters, their counters] (issue, "Users"):
 * sent = my requests still waiting, rejected and withheld ones included; received = requests
 * waiting for my answer, not those I rejected nor those of members I hide; connections.
 */
type Counts = { connections: number; sent: number; received: number };
const c = (connections: number, sent: number, received: number): Counts => ({ connections, sent, received });
const COUNTS: Record<PairState, { me: Counts; them: Counts }> = {
  none: { me: c(0, 0, 0), them: c(0, 0, 0) },
  sent_pending: { me: c(0, 1, 0), them: c(0, 0, 1) },
  sent_rejected: { me: c(0, 1, 0), them: c(0, 0, 0) },
  sent_withheld: { me: c(0, 1, 0), them: c(0, 0, 0) },
  received_pending: { me: c(0, 0, 1), them: c(0, 1, 0) },
  received_rejected: { me: c(0, 0, 0), them: c(0, 1, 0) },
  received_withheld: { me: c(0, 0, 0), them: c(0, 1, 0) },
  connected: { me: c(1, 0, 0), them: c(1, 0, 0) },
};
const minus = (a: Counts, b: Counts): Counts => ({
  connections: a.connections - b.connections,
  sent: a.sent - b.sent,
  received: a.received - b.received,
});

describe('counterDeltas()', () => {
  for (const from of STATES) {
    for (const next of STATES) {
      test(`${from} -> ${next}`, () => {
        const deltas = counterDeltas(from, next);
        assert.deepEqual(deltas.me, minus(COUNTS[next].me, COUNTS[from].me));
        assert.deepEqual(deltas.them, minus(COUNTS[next].them, COUNTS[from].them));
      });
    }
  }

  test('a few transitions spelled out', () => {
    assert.deepEqual(counterDeltas('none', 'sent_pending'), { me: c(0, 1, 0), them: c(0, 0, 1) });
    assert.deepEqual(counterDeltas('received_pending', 'connected'), { me: c(1, 0, -1), them: c(1, -1, 0) });
    assert.deepEqual(counterDeltas('received_rejected', 'connected'), { me: c(1, 0, 0), them: c(1, -1, 0) });
    assert.deepEqual(counterDeltas('received_pending', 'received_rejected'), { me: c(0, 0, -1), them: c(0, 0, 0) });
    assert.deepEqual(counterDeltas('sent_rejected', 'none'), { me: c(0, -1, 0), them: c(0, 0, 0) });
    assert.deepEqual(counterDeltas('connected', 'none'), { me: c(-1, 0, 0), them: c(-1, 0, 0) });
    assert.deepEqual(counterDeltas('connected', 'connected'), { me: c(0, 0, 0), them: c(0, 0, 0) });
  });

  test('every allowed transition keeps every counter of both sides within 0..1 for the pair', () => {
    for (const action of ACTIONS)
      for (const from of STATES) {
        const result = transition(from, action, HIDES_OF(from));
        if (!result.ok) continue;
        const d = counterDeltas(from, result.next);
        for (const side of ['me', 'them'] as const)
          for (const key of ['connections', 'sent', 'received'] as const) {
            const after = COUNTS[from][side][key] + d[side][key];
            assert.ok(after === 0 || after === 1, `${action} from ${from}: ${side}.${key} = ${after}`);
          }
      }
  });
});

const ME = 7;
const THEM = 9;
const n = (type: string, recipient: number, actor: number) => ({ type, recipient, actor });
/**
 * Every move an action can make, with its effects in order (the event written out in full), from
 * the rules: a withdrawn waiting request takes its notification along; a rejection and
 * its restoration tell nobody; `from` is always the request's sender, for connection.deleted the remover.
 */
const MOVES: Record<string, Array<string | object>> = {
  'none->sent_pending': [
    'insert_request',
    'counters',
    {
      type: 'connection_request.created',
      from: ME,
      to: THEM,
      notification: n('connection_request', THEM, ME),
    },
  ],
  'received_pending->connected': [
    'delete_request',
    'insert_connection',
    'counters',
    { type: 'connection.created', from: THEM, to: ME, notification: n('connection_accept', THEM, ME) },
  ],
  'received_rejected->connected': [
    'delete_request',
    'insert_connection',
    'counters',
    { type: 'connection.created', from: THEM, to: ME, notification: n('connection_accept', THEM, ME) },
  ],
  'received_pending->received_rejected': [
    'set_rejected:true',
    'counters',
    { type: 'connection_request.rejected', from: THEM, to: ME },
  ],
  'received_rejected->received_pending': [
    'set_rejected:false',
    'counters',
    { type: 'connection_request.restored', from: THEM, to: ME },
  ],
  'sent_pending->none': [
    'withdraw_request_notification',
    'delete_request',
    'counters',
    {
      type: 'connection_request.cancelled',
      from: ME,
      to: THEM,
      notification: n('connection_cancel_request', THEM, ME),
    },
  ],
  'sent_rejected->none': ['delete_request', 'counters', { type: 'connection_request.cancelled', from: ME, to: THEM }],
  // Hiding: a request out of its recipient's sight tells them nothing; hiding and showing again are no event.
  'none->sent_withheld': [
    'insert_request:withheld',
    'counters',
    { type: 'connection_request.created', from: ME, to: THEM },
  ],
  'sent_withheld->none': ['delete_request', 'counters', { type: 'connection_request.cancelled', from: ME, to: THEM }],
  'received_pending->received_withheld': ['set_withheld:true', 'withdraw_request_notification', 'counters'],
  'received_withheld->received_pending': ['set_withheld:false', 'counters'],
  'received_withheld->connected': [
    'delete_request',
    'insert_connection',
    'counters',
    { type: 'connection.created', from: THEM, to: ME, notification: n('connection_accept', THEM, ME) },
  ],
  'received_withheld->received_rejected': [
    'set_withheld:false',
    'set_rejected:true',
    'counters',
    { type: 'connection_request.rejected', from: THEM, to: ME },
  ],
  'received_rejected->received_withheld': [
    'set_rejected:false',
    'set_withheld:true',
    'counters',
    { type: 'connection_request.restored', from: THEM, to: ME },
  ],
  'connected->none': [
    'delete_connection',
    'counters',
    { type: 'connection.deleted', from: ME, to: THEM, notification: n('connection_remove', THEM, ME) },
  ],
};

/** An effect as the tables above write it. */
function written(effect: Effect): string | object {
  if (effect.kind === 'event') return effect.event;
  if (effect.kind === 'set_rejected') return `set_rejected:${effect.rejected}`;
  if (effect.kind === 'set_withheld') return `set_withheld:${effect.withheld}`;
  if (effect.kind === 'insert_request') return effect.withheld ? 'insert_request:withheld' : 'insert_request';
  return effect.kind;
}

/** The effects an action has before the move's own: `viewed`, or the hide row when it changes. */
function leading(action: ConnectionAction, hides: PairHides): string[] {
  if (action === 'mark_seen') return ['mark_viewed'];
  if (action === 'hide' && !hides.byMe) return ['insert_hide'];
  if (action === 'unhide' && hides.byMe) return ['delete_hide'];
  return [];
}

describe('plan(): the next state, my status and every effect, for every (state, action) pair', () => {
  for (const action of ACTIONS) {
    for (const state of STATES) {
      const expected = EXPECTED[action][state];
      test(`${action} from ${state}`, () => {
        const hides = HIDES_OF(state);
        const result = plan(state, action, { me: ME, them: THEM }, hides);
        if (expected === 'refuse') {
          assert.equal(result.ok, false);
          return;
        }
        assert.ok(result.ok);
        assert.equal(result.next, expected);
        assert.equal(result.status, STATUS[expected][0]);
        const moves = expected === state ? [] : MOVES[`${state}->${expected}`];
        assert.ok(moves, `a move ${state}->${expected} is in the table`);
        assert.deepEqual(result.effects.map(written), [...leading(action, hides), ...moves]);
        const counters = result.effects.find((e) => e.kind === 'counters');
        if (expected !== state) {
          assert.deepEqual(counters, {
            kind: 'counters',
            me: minus(COUNTS[expected].me, COUNTS[state].me),
            them: minus(COUNTS[expected].them, COUNTS[state].them),
          });
        }
      });
    }
  }
});

describe('plan(): the moves that depend on who hides whom', () => {
  for (const [state, action, hides, expected] of HIDDEN) {
    test(`${action} from ${state} with hides ${JSON.stringify(hides)}`, () => {
      const result = plan(state, action, { me: ME, them: THEM }, hides);
      assert.ok(result.ok);
      const moves = expected === state ? [] : MOVES[`${state}->${expected}`];
      assert.ok(moves, `a move ${state}->${expected} is in the table`);
      assert.deepEqual(result.effects.map(written), [...leading(action, hides), ...moves]);
    });
  }

  test('hiding twice, or showing again a member I do not hide, plans nothing', () => {
    for (const state of STATES) {
      const hidden = plan(state, 'hide', { me: ME, them: THEM }, { byMe: true, byThem: false });
      if (state !== 'received_pending') assert.deepEqual(hidden.ok && hidden.effects, [], state);
      const shown = plan(state, 'unhide', { me: ME, them: THEM }, { byMe: false, byThem: false });
      if (state !== 'received_withheld') assert.deepEqual(shown.ok && shown.effects, [], state);
    }
  });
});

describe('pairStateOf(): the state from what the rows say, from my side (me = 7)', () => {
  const at = new Date();
  const cases: Array<[string, Parameters<typeof pairStateOf>[1], PairState]> = [
    ['no rows', { connected: false, request: undefined }, 'none'],
    ['a connection', { connected: true, request: undefined }, 'connected'],
    [
      'my request, waiting',
      { connected: false, request: { from_user_id: 7, rejected: null, withheld: false } },
      'sent_pending',
    ],
    [
      'my request, rejected',
      { connected: false, request: { from_user_id: 7, rejected: at, withheld: false } },
      'sent_rejected',
    ],
    [
      'their request, waiting',
      { connected: false, request: { from_user_id: 9, rejected: null, withheld: false } },
      'received_pending',
    ],
    [
      'their request, rejected',
      { connected: false, request: { from_user_id: 9, rejected: at, withheld: false } },
      'received_rejected',
    ],
    [
      'my request, withheld',
      { connected: false, request: { from_user_id: 7, rejected: null, withheld: true } },
      'sent_withheld',
    ],
    [
      'their request, withheld',
      { connected: false, request: { from_user_id: 9, rejected: null, withheld: true } },
      'received_withheld',
    ],
  ];
  for (const [label, rows, expected] of cases) {
    test(label, () => assert.equal(pairStateOf(7, rows), expected));
  }
});
