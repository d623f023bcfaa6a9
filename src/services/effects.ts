import { storedUserParts, USER_COLUMNS } from '../contracts/user.js';
import {
  applyPairWrites,
  type Executor,
  type LockedPair,
  type MemberCounters,
  type PairWrites,
} from '../db/repositories/pairs.js';
import type { UserRow } from '../db/schema.js';
import type { Effect, UserCounterDelta } from '../domain/effects.js';
import type { GraphEvent } from '../domain/events.js';
import { graphEventWrite } from '../events/outbox.js';

/** The pair a plan's effects act on, as `lockPair` loaded it under both members' locks, or `loadPair` without. */
export interface EffectPair {
  me: number;
  them: number;
  locked: LockedPair;
}

const COUNTERS = {
  connections: 'connections_count',
  sent: 'requests_sent_count',
  received: 'requests_received_count',
  followers: 'followers_count',
  followings: 'followings_count',
} as const satisfies Record<keyof UserCounterDelta, keyof MemberCounters>;

/** A member's row after adding a delta to its counters. */
function withCounters(row: UserRow, delta: UserCounterDelta): UserRow {
  const after = { ...row };
  for (const [name, column] of Object.entries(COUNTERS) as Array<[keyof UserCounterDelta, keyof MemberCounters]>) {
    after[column] += delta[name] ?? 0;
  }
  return after;
}

/** Whether the User rendered from `after` may differ from `before`'s: a column it is rendered from changed. */
const shownChanged = (before: UserRow, after: UserRow) =>
  USER_COLUMNS.some((column) => before[column] !== after[column]);

/**
 * What a plan's effects (connection-state.ts, follow-state.ts) come to as rows: the one switch over
 * effect kinds. Several effects on the pair's request row become one write of it; the counters
 * become both members' counters after the move and their list JSON, rendered by `contracts/user.ts`
 * when it changed; the event is rendered with the members as the move leaves them. No rule of the
 * state machine is here: only the translation of its effects into values.
 */
export function pairWrites(effects: readonly Effect[], { me, them, locked }: EffectPair): PairWrites {
  const writes: Omit<PairWrites, 'members'> = { me, them };
  const deltas = new Map<number, UserCounterDelta>();
  let event: GraphEvent | undefined;
  const requestId = () => {
    // The plan asks for the request only in states that have one (locked and loaded before).
    if (!locked.request) throw new Error("an effect on the pair's request without one");
    return locked.request.id;
  };
  const update = (change: { rejected?: boolean; withheld?: boolean; viewed?: true }) => {
    const now = writes.request;
    if (now && now.kind !== 'update') throw new Error(`a plan that updates a request it ${now.kind}s`);
    writes.request = { ...(now ?? { kind: 'update', id: requestId() }), ...change };
  };
  const once = <K extends 'request' | 'connection' | 'hide' | 'follow'>(key: K, value: PairWrites[K]) => {
    if (writes[key] !== undefined) throw new Error(`a plan that writes the pair's ${key} twice`);
    writes[key] = value;
  };
  for (const effect of effects) {
    switch (effect.kind) {
      case 'insert_request':
        once('request', { kind: 'insert', withheld: effect.withheld });
        break;
      case 'delete_request':
        once('request', { kind: 'delete', id: requestId() });
        break;
      case 'set_rejected':
        update({ rejected: effect.rejected });
        break;
      case 'set_withheld':
        update({ withheld: effect.withheld });
        break;
      case 'mark_viewed':
        update({ viewed: true });
        break;
      case 'insert_connection':
        once('connection', 'insert');
        break;
      case 'delete_connection':
        once('connection', 'delete');
        break;
      case 'insert_hide':
        once('hide', 'insert');
        break;
      case 'delete_hide':
        once('hide', 'delete');
        break;
      case 'insert_follow':
        once('follow', 'insert');
        break;
      case 'delete_follow':
        once('follow', 'delete');
        break;
      case 'withdraw_request_notification':
        writes.withdrawRequestNotification = requestId();
        break;
      case 'withdraw_follow_notification':
        writes.withdrawFollowNotification = true;
        break;
      case 'counters':
        for (const [id, delta] of [
          [me, effect.me],
          [them, effect.them],
        ] as const) {
          const sum = { ...deltas.get(id) };
          for (const name of Object.keys(COUNTERS) as Array<keyof UserCounterDelta>) {
            sum[name] = (sum[name] ?? 0) + (delta[name] ?? 0);
          }
          deltas.set(id, sum);
        }
        break;
      case 'event':
        if (event) throw new Error('a plan with two events');
        event = effect.event;
        break;
    }
  }

  // Both members' rows are written by every move that writes anything: a move that waited for their
  // locks sees that another changed the pair (see `lockPair`), and both rows carry the counters.
  const after = new Map<number, UserRow>();
  const members: Array<PairWrites['members'][number]> = [];
  for (const id of [me, them]) {
    const before = locked.members.get(id);
    if (!before) throw new Error(`a move of member ${id}, who is not locked`);
    const row = withCounters(before, deltas.get(id) ?? {});
    after.set(id, row);
    // The request counters are not shown in lists: a request leaves both members' JSON as it was.
    members.push({ id, counters: row, json: shownChanged(before, row) ? storedUserParts(row) : undefined });
  }
  const request =
    writes.request?.kind === 'insert' ? 'inserted' : writes.request?.kind === 'delete' ? undefined : locked.request?.id;
  return { ...writes, members, ...(event && { event: graphEventWrite(event, after, request) }) };
}

/**
 * The pair a move was planned on changed before its write (an optimistic move's members are no
 * longer the rows `loadPair` found): nothing was written; the move is made again under the locks.
 */
export class PairChanged extends Error {
  constructor() {
    super('the pair changed after it was loaded');
  }
}

/**
 * Executes a plan's effects in one statement (`applyPairWrites`); a plan without effects writes
 * nothing. A pair loaded without locks (`loadPair`) is written only if neither member changed since
 * it was loaded; otherwise nothing is written and `PairChanged` is thrown.
 */
export async function executePlan(db: Executor, effects: readonly Effect[], pair: EffectPair): Promise<void> {
  if (effects.length === 0) return;
  const { locked } = pair;
  const applied = await applyPairWrites(db, pairWrites(effects, pair), locked.underLocks ? undefined : locked.versions);
  if (!applied) throw new PairChanged();
}
