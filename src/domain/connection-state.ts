/**
 * The friendship state machine, seen from one side of a pair ("me" and "them"). Pure: no I/O.
 * Every (state, action) pair is decided here, together with everything the move changes: `plan`
 * returns the next state and the closed list of effects (rows, counters, event, notifications);
 * services load the state, execute the effects in order and know nothing about states.
 */
import type { Effect } from './effects.js';
import { eventFor } from './events.js';

export const PAIR_STATES = [
  'none',
  'sent_pending', // my request to them waits
  'sent_rejected', // they rejected my request (I am never told)
  'received_pending', // their request to me waits
  'received_rejected', // I rejected their request
  'connected',
] as const;
export type PairState = (typeof PAIR_STATES)[number];

export const CONNECTION_ACTIONS = [
  'request',
  'accept',
  'reject',
  'cancel_reject',
  'cancel_request',
  'remove',
  'mark_seen',
] as const;
export type ConnectionAction = (typeof CONNECTION_ACTIONS)[number];

export type ConnectionStatus = 'connected' | 'sent_connection_request' | 'received_connection_request' | null;

export type Transition = { ok: true; next: PairState } | { ok: false; reason: string };

const to = (next: PairState): Transition => ({ ok: true, next });
const refuse = (reason: string): Transition => ({ ok: false, reason });

/** Decides what an action does to a pair: the next state, or why it is refused. */
export function transition(state: PairState, action: ConnectionAction): Transition {
  switch (action) {
    case 'request':
      switch (state) {
        case 'none':
          return to('sent_pending');
        case 'received_pending':
        case 'received_rejected':
          return to('connected');
        case 'sent_pending':
        case 'sent_rejected':
        case 'connected':
          return to(state);
      }
      break;
    case 'accept':
      switch (state) {
        case 'received_pending':
        case 'received_rejected':
          return to('connected');
        case 'connected':
          return to(state);
        default:
          return refuse('There is no connection request from this user to accept.');
      }
    case 'reject':
      switch (state) {
        case 'received_pending':
          return to('received_rejected');
        case 'received_rejected':
          return to(state);
        default:
          return refuse('There is no pending connection request from this user to reject.');
      }
    case 'cancel_reject':
      switch (state) {
        case 'received_rejected':
          return to('received_pending');
        case 'received_pending':
          return to(state);
        default:
          return refuse('There is no rejected connection request from this user to restore.');
      }
    case 'cancel_request':
      switch (state) {
        case 'sent_pending':
        case 'sent_rejected':
          return to('none');
        case 'none':
          return to(state);
        case 'connected':
          return refuse('You are connected with this user: remove the connection instead.');
        default:
          return refuse('You have not sent a connection request to this user.');
      }
    case 'remove':
      switch (state) {
        case 'connected':
          return to('none');
        case 'none':
          return to(state);
        default:
          return refuse('You are not connected with this user: a connection request is pending.');
      }
    case 'mark_seen':
      switch (state) {
        case 'received_pending':
        case 'received_rejected':
          return to(state);
        default:
          return refuse('There is no connection request from this user.');
      }
  }
  return assertNever(action);
}

function assertNever(value: never): never {
  throw new Error(`unhandled: ${String(value)}`);
}

/**
 * The state of a pair from my side, from what its rows say: a connection, or the pair's one
 * request (mine or theirs, rejected or not), or nothing.
 */
export function pairStateOf(
  me: number,
  rows: { connected: boolean; request: { from_user_id: number; rejected: Date | null } | undefined },
): PairState {
  if (rows.connected) return 'connected';
  if (!rows.request) return 'none';
  const rejected = rows.request.rejected !== null;
  if (rows.request.from_user_id === me) return rejected ? 'sent_rejected' : 'sent_pending';
  return rejected ? 'received_rejected' : 'received_pending';
}

/** The connection_status I see for them in a given state. A rejection is never shown to its sender. */
export function statusOf(state: PairState): ConnectionStatus {
  switch (state) {
    case 'none':
    case 'received_rejected':
      return null;
    case 'sent_pending':
    case 'sent_rejected':
      return 'sent_connection_request';
    case 'received_pending':
      return 'received_connection_request';
    case 'connected':
      return 'connected';
  }
}

/** The state as they see it. */
export function mirror(state: PairState): PairState {
  switch (state) {
    case 'sent_pending':
      return 'received_pending';
    case 'sent_rejected':
      return 'received_rejected';
    case 'received_pending':
      return 'sent_pending';
    case 'received_rejected':
      return 'sent_rejected';
    default:
      return state;
  }
}

export interface CounterDelta {
  connections: number;
  sent: number;
  received: number;
}

const ZERO: CounterDelta = { connections: 0, sent: 0, received: 0 };

/** What a state adds to my counters: requests I sent that still wait (rejected ones too), requests I must answer, connections. */
function contribution(state: PairState): CounterDelta {
  switch (state) {
    case 'sent_pending':
    case 'sent_rejected':
      return { ...ZERO, sent: 1 };
    case 'received_pending':
      return { ...ZERO, received: 1 };
    case 'connected':
      return { ...ZERO, connections: 1 };
    default:
      return ZERO;
  }
}

/** How my counters and theirs change when the pair moves from one state to another. */
export function counterDeltas(from: PairState, next: PairState): { me: CounterDelta; them: CounterDelta } {
  const diff = (a: CounterDelta, b: CounterDelta): CounterDelta => ({
    connections: b.connections - a.connections,
    sent: b.sent - a.sent,
    received: b.received - a.received,
  });
  return {
    me: diff(contribution(from), contribution(next)),
    them: diff(contribution(mirror(from)), contribution(mirror(next))),
  };
}

export type { Effect } from './effects.js';

export type Plan =
  | { ok: true; next: PairState; status: ConnectionStatus; effects: Effect[] }
  | { ok: false; reason: string };

/** The rows a move between two states needs, from my side. */
function rowEffects(from: PairState, next: PairState): Effect[] {
  switch (next) {
    case 'sent_pending':
      return [{ kind: 'insert_request' }];
    case 'connected':
      return [{ kind: 'delete_request' }, { kind: 'insert_connection' }];
    case 'received_rejected':
      return [{ kind: 'set_rejected', rejected: true }];
    case 'received_pending':
      return [{ kind: 'set_rejected', rejected: false }];
    case 'none':
      if (from === 'connected') return [{ kind: 'delete_connection' }];
      // Withdrawing a waiting request takes its notification away; one they rejected they have seen.
      return from === 'sent_pending'
        ? [{ kind: 'withdraw_request_notification' }, { kind: 'delete_request' }]
        : [{ kind: 'delete_request' }];
    case 'sent_rejected':
      // Only the other side rejects: no action of mine moves the pair here (the table test checks).
      return [];
  }
}

/**
 * Decides an action of `me` towards `them`: the next state, my status after it, and every effect
 * of the move. Repeating an action that already took effect plans no change (and no event).
 */
export function plan(state: PairState, action: ConnectionAction, pair: { me: number; them: number }): Plan {
  const result = transition(state, action);
  if (!result.ok) return result;
  const { next } = result;
  const effects: Effect[] = action === 'mark_seen' ? [{ kind: 'mark_viewed' }] : [];
  if (next !== state) {
    effects.push(...rowEffects(state, next), { kind: 'counters', ...counterDeltas(state, next) });
    const event = eventFor(pair.me, pair.them, state, next);
    if (event) effects.push({ kind: 'event', event });
  }
  return { ok: true, next, status: statusOf(next), effects };
}
