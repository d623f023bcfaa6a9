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
  'sent_withheld', // my request waits, out of their sight: they hide me (I am never told)
  'received_pending', // their request to me waits
  'received_rejected', // I rejected their request
  'received_withheld', // their request waits, out of my sight: I hide them
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
  'hide', // POST /user/{id}/hide/ when I do not hide them
  'unhide', // the same when I do
] as const;
export type ConnectionAction = (typeof CONNECTION_ACTIONS)[number];

export type ConnectionStatus = 'connected' | 'sent_connection_request' | 'received_connection_request' | null;

export type Transition = { ok: true; next: PairState } | { ok: false; reason: string };

/**
 * Who hides whom in the pair (`user_hides`), from my side. A request waits out of its recipient's
 * sight while the recipient hides its sender; nothing else of the pair depends on hiding.
 */
export interface PairHides {
  byMe: boolean;
  byThem: boolean;
}

/** A pair where nobody hides anybody. */
export const NO_HIDES: PairHides = Object.freeze({ byMe: false, byThem: false });

const to = (next: PairState): Transition => ({ ok: true, next });
const refuse = (reason: string): Transition => ({ ok: false, reason });

/**
 * Decides what an action does to a pair: the next state, or why it is refused. A request of
 * theirs that waits out of my sight (`received_withheld`) is answered as any request of theirs:
 * asking them, accepting or rejecting it acts on it.
 */
export function transition(state: PairState, action: ConnectionAction, hides: PairHides): Transition {
  switch (action) {
    case 'request':
      switch (state) {
        case 'none':
          return to(hides.byThem ? 'sent_withheld' : 'sent_pending');
        case 'received_pending':
        case 'received_rejected':
        case 'received_withheld':
          return to('connected');
        case 'sent_pending':
        case 'sent_rejected':
        case 'sent_withheld':
        case 'connected':
          return to(state);
      }
      break;
    case 'accept':
      switch (state) {
        case 'received_pending':
        case 'received_rejected':
        case 'received_withheld':
          return to('connected');
        case 'connected':
          return to(state);
        default:
          return refuse('There is no connection request from this user to accept.');
      }
    case 'reject':
      switch (state) {
        case 'received_pending':
        case 'received_withheld':
          return to('received_rejected');
        case 'received_rejected':
          return to(state);
        default:
          return refuse('There is no pending connection request from this user to reject.');
      }
    case 'cancel_reject':
      switch (state) {
        case 'received_rejected':
          return to(hides.byMe ? 'received_withheld' : 'received_pending');
        case 'received_pending':
        case 'received_withheld':
          return to(state);
        default:
          return refuse('There is no rejected connection request from this user to restore.');
      }
    case 'cancel_request':
      switch (state) {
        case 'sent_pending':
        case 'sent_rejected':
        case 'sent_withheld':
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
        case 'received_withheld':
          return to(state);
        default:
          return refuse('There is no connection request from this user.');
      }
    // Hiding takes their waiting request out of my sight, showing them again brings it back; it
    // never changes anything else, so it is never refused.
    case 'hide':
      return to(state === 'received_pending' ? 'received_withheld' : state);
    case 'unhide':
      return to(state === 'received_withheld' ? 'received_pending' : state);
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
  rows: {
    connected: boolean;
    request: { from_user_id: number; rejected: Date | null; withheld: boolean } | undefined;
  },
): PairState {
  if (rows.connected) return 'connected';
  if (!rows.request) return 'none';
  const { rejected, withheld } = rows.request;
  const mine = rows.request.from_user_id === me;
  if (rejected !== null) return mine ? 'sent_rejected' : 'received_rejected';
  if (withheld) return mine ? 'sent_withheld' : 'received_withheld';
  return mine ? 'sent_pending' : 'received_pending';
}

/**
 * The connection_status I see for them in a given state. A rejection is never shown to its sender,
 * nor a hide; the request of a member I hide is not shown to me.
 */
export function statusOf(state: PairState): ConnectionStatus {
  switch (state) {
    case 'none':
    case 'received_rejected':
    case 'received_withheld':
      return null;
    case 'sent_pending':
    case 'sent_rejected':
    case 'sent_withheld':
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
    case 'sent_withheld':
      return 'received_withheld';
    case 'received_withheld':
      return 'sent_withheld';
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

/**
 * What a state adds to my counters: requests I sent that still wait (rejected and withheld ones
 * too), requests I must answer (not those of members I hide), connections.
 */
function contribution(state: PairState): CounterDelta {
  switch (state) {
    case 'sent_pending':
    case 'sent_rejected':
    case 'sent_withheld':
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
  // A withheld request is shown again (or rejected, or restored) as a pending one: withheld only while pending.
  const shown: Effect[] = from === 'received_withheld' ? [{ kind: 'set_withheld', withheld: false }] : [];
  switch (next) {
    case 'sent_pending':
    case 'sent_withheld':
      return [{ kind: 'insert_request', withheld: next === 'sent_withheld' }];
    case 'connected':
      return [{ kind: 'delete_request' }, { kind: 'insert_connection' }];
    case 'received_rejected':
      return [...shown, { kind: 'set_rejected', rejected: true }];
    case 'received_pending':
      return from === 'received_withheld' ? shown : [{ kind: 'set_rejected', rejected: false }];
    case 'received_withheld':
      // Hiding them takes their request's notification away too; a restored rejection had none.
      return from === 'received_pending'
        ? [{ kind: 'set_withheld', withheld: true }, { kind: 'withdraw_request_notification' }]
        : [
            { kind: 'set_rejected', rejected: false },
            { kind: 'set_withheld', withheld: true },
          ];
    case 'none':
      if (from === 'connected') return [{ kind: 'delete_connection' }];
      // Withdrawing a waiting request takes its notification away; one they rejected they have seen,
      // one they hid had none.
      return from === 'sent_pending'
        ? [{ kind: 'withdraw_request_notification' }, { kind: 'delete_request' }]
        : [{ kind: 'delete_request' }];
    case 'sent_rejected':
      // Only the other side rejects: no action of mine moves the pair here (the table test checks).
      return [];
  }
}

/** The `user_hides` row a hide or an unhide writes, when it changes anything. */
function hideEffects(action: ConnectionAction, hides: PairHides): Effect[] {
  if (action === 'hide' && !hides.byMe) return [{ kind: 'insert_hide' }];
  if (action === 'unhide' && hides.byMe) return [{ kind: 'delete_hide' }];
  return [];
}

/**
 * Decides an action of `me` towards `them`, given who hides whom: the next state, my status after
 * it, and every effect of the move. Repeating an action that already took effect plans no change
 * (and no event).
 */
export function plan(
  state: PairState,
  action: ConnectionAction,
  pair: { me: number; them: number },
  hides: PairHides,
): Plan {
  const result = transition(state, action, hides);
  if (!result.ok) return result;
  const { next } = result;
  const effects: Effect[] = action === 'mark_seen' ? [{ kind: 'mark_viewed' }] : hideEffects(action, hides);
  if (next !== state) {
    effects.push(...rowEffects(state, next), { kind: 'counters', ...counterDeltas(state, next) });
    const event = eventFor(pair.me, pair.them, state, next);
    if (event) effects.push({ kind: 'event', event });
  }
  return { ok: true, next, status: statusOf(next), effects };
}
