import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConnectionAction,
  type ConnectionStatus,
  counterDeltas,
  type Effect,
  mirror,
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
  'received_pending',
  'received_rejected',
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
];

/** The expected outcome of every (state, action) pair, written from the action list. 'refuse' = 400. */
const EXPECTED: Record<ConnectionAction, Record<PairState, PairState | 'refuse'>> = {
  // nothing -> pending; their request (pending or rejected by me) -> connected; otherwise no change.
  request: {
    none: 'sent_pending',
    sent_pending: 'sent_pending',
    sent_rejected: 'sent_rejected',
    received_pending: 'connected',
    received_rejected: 'connected',
    connected: 'connected',
  },
  // their request (pending, or one I rejected) -> connected; connected stays; anything else 400.
  accept: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    received_pending: 'connected',
    received_rejected: 'connected',
    connected: 'connected',
  },
  // their pending request -> rejected; already rejected stays; anything else 400.
  reject: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    received_pending: 'received_rejected',
    received_rejected: 'received_rejected',
    connected: 'refuse',
  },
  // a request of theirs I rejected -> pending again; already pending stays; anything else 400.
  cancel_reject: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    received_pending: 'received_pending',
    received_rejected: 'received_pending',
    connected: 'refuse',
  },
  // my request (pending or rejected) -> deleted; nothing stays nothing; connected or their request: 400.
  cancel_request: {
    none: 'none',
    sent_pending: 'none',
    sent_rejected: 'none',
    received_pending: 'refuse',
    received_rejected: 'refuse',
    connected: 'refuse',
  },
  // connected -> nothing; nothing stays; a request either way (a rejected one included, which the
  // sender cannot tell from a pending one): 400.
  remove: {
    none: 'none',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    received_pending: 'refuse',
    received_rejected: 'refuse',
    connected: 'none',
  },
  // their request to me (pending or rejected): no state change (only `viewed`); no request from them: 400.
  mark_seen: {
    none: 'refuse',
    sent_pending: 'refuse',
    sent_rejected: 'refuse',
    received_pending: 'received_pending',
    received_rejected: 'received_rejected',
    connected: 'refuse',
  },
};

describe('transition() covers every (state, action) pair', () => {
  for (const action of ACTIONS) {
    for (const state of STATES) {
      const expected = EXPECTED[action][state];
      test(`${action} from ${state} -> ${expected}`, () => {
        const result = transition(state, action);
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

  test('no action ever leads to sent_rejected (only the other side can reject)', () => {
    for (const action of ACTIONS)
      for (const state of STATES) {
        const result = transition(state, action);
        if (result.ok && result.next !== state) assert.notEqual(result.next, 'sent_rejected');
      }
  });
});

/** The status table: [my status, their status] for each state as I see it. */
const STATUS: Record<PairState, [ConnectionStatus, ConnectionStatus]> = {
  none: [null, null],
  sent_pending: ['sent_connection_request', 'received_connection_request'],
  // a rejection is never shown to its sender
  sent_rejected: ['sent_connection_request', null],
  received_pending: ['received_connection_request', 'sent_connection_request'],
  received_rejected: [null, 'sent_connection_request'],
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
      'sent_pending',
      'sent_rejected',
      'connected',
    ]);
    for (const state of STATES) assert.equal(mirror(mirror(state)), state);
  });
});

/**
 * What each state contributes to [my counters, their counters] (issue, "Users"):
 * sent = my requests still waiting, rejected ones included; received = requests waiting for my
 * answer, not those I rejected; connections.
 */
type Counts = { connections: number; sent: number; received: number };
const c = (connections: number, sent: number, received: number): Counts => ({ connections, sent, received });
const COUNTS: Record<PairState, { me: Counts; them: Counts }> = {
  none: { me: c(0, 0, 0), them: c(0, 0, 0) },
  sent_pending: { me: c(0, 1, 0), them: c(0, 0, 1) },
  sent_rejected: { me: c(0, 1, 0), them: c(0, 0, 0) },
  received_pending: { me: c(0, 0, 1), them: c(0, 1, 0) },
  received_rejected: { me: c(0, 0, 0), them: c(0, 1, 0) },
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
        const result = transition(from, action);
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
  return effect.kind;
}

describe('plan(): the next state, my status and every effect, for every (state, action) pair', () => {
  for (const action of ACTIONS) {
    for (const state of STATES) {
      const expected = EXPECTED[action][state];
      test(`${action} from ${state}`, () => {
        const result = plan(state, action, { me: ME, them: THEM });
        if (expected === 'refuse') {
          assert.equal(result.ok, false);
          return;
        }
        assert.ok(result.ok);
        assert.equal(result.next, expected);
        assert.equal(result.status, STATUS[expected][0]);
        const seen = action === 'mark_seen' ? ['mark_viewed'] : [];
        const moves = expected === state ? [] : MOVES[`${state}->${expected}`];
        assert.ok(moves, `a move ${state}->${expected} is in the table`);
        assert.deepEqual(result.effects.map(written), [...seen, ...moves]);
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

describe('pairStateOf(): the state from what the rows say, from my side (me = 7)', () => {
  const at = new Date();
  const cases: Array<[string, Parameters<typeof pairStateOf>[1], PairState]> = [
    ['no rows', { connected: false, request: undefined }, 'none'],
    ['a connection', { connected: true, request: undefined }, 'connected'],
    ['my request, waiting', { connected: false, request: { from_user_id: 7, rejected: null } }, 'sent_pending'],
    ['my request, rejected', { connected: false, request: { from_user_id: 7, rejected: at } }, 'sent_rejected'],
    ['their request, waiting', { connected: false, request: { from_user_id: 9, rejected: null } }, 'received_pending'],
    ['their request, rejected', { connected: false, request: { from_user_id: 9, rejected: at } }, 'received_rejected'],
  ];
  for (const [label, rows, expected] of cases) {
    test(label, () => assert.equal(pairStateOf(7, rows), expected));
  }
});
