import {
  CONNECTION_ACTIONS,
  type ConnectionAction,
  mirror,
  NO_HIDES,
  type PairState,
  statusOf,
  transition,
} from '../../src/domain/connection-state.js';

// A model-checked stress run over real HTTP: clients pick seeded random actions and reads on the
// pairs of a few hot members. The model holds each pair's state from its lower id's side. A client
// locks the pair it acts on in the model (not in the server), so it knows the state before its
// action and the one answer the state table allows; a "race" fires two actions on one pair at once
// and accepts the answers of either serial order, then reads the pair from both sides (which tells
// every state apart) to learn which order the server took. Actions on different pairs of the same
// members run concurrently: that is what races on the counters.

/** A seeded generator (mulberry32): the same seed gives every client the same choices. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Reply {
  status: number;
  body: any;
}

/** How the run reaches the server: a request as a member (id) with a JSON body or none. */
export type Send = (member: number, method: string, path: string, body?: unknown) => Promise<Reply>;

export interface StressOptions {
  send: Send;
  members: readonly number[];
  clients: number;
  ops: number;
  seed: number;
  /** The share of actions fired as a race of two on one pair. */
  raceShare?: number;
}

export interface StressResult {
  ops: number;
  counts: Record<string, number>;
  /** Answers with a 5xx status. */
  serverErrors: string[];
  /** Answers no serial order of the actions allows. */
  inconsistent: string[];
  /** Every pair's state at the end, from the lower id's side: `${low}:${high}`. */
  states: Map<string, PairState>;
}

/** What a status read from each side shows for a state (from the lower id's side): tells all six apart. */
/**
 * The moves the clients make: every friendship action. Hiding is left out: it is a toggle on its own
 * route (`POST /user/{id}/hide/`) whose state this model does not track; test/integration/hide.test.ts
 * covers what it does to the pair.
 */
const STRESS_ACTIONS = CONNECTION_ACTIONS.filter((action) => action !== 'hide' && action !== 'unhide');

const SEEN = (state: PairState) => `${statusOf(state)}|${statusOf(mirror(state))}`;

const ACTION_PATH = (action: ConnectionAction, them: number) =>
  action === 'mark_seen'
    ? `/api/v2/user/${them}/connection_requests/mark_seen/`
    : `/api/v2/user/${them}/connection/${action}/`;

/** The answer the state table gives: the status code and the connection status (undefined for 204 and 400). */
function expected(state: PairState, action: ConnectionAction): { status: number; next: PairState; shown?: string } {
  const decided = transition(state, action, NO_HIDES);
  if (!decided.ok) return { status: 400, next: state };
  if (action === 'mark_seen') return { status: 204, next: decided.next };
  return { status: 200, next: decided.next, shown: JSON.stringify(statusOf(decided.next)) };
}

const agrees = (reply: Reply, want: ReturnType<typeof expected>) =>
  reply.status === want.status &&
  (want.shown === undefined || JSON.stringify(reply.body?.connection_status) === want.shown) &&
  (reply.status !== 400 || reply.body?.code === 'invalid_connection_action');

interface Move {
  actor: number;
  action: ConnectionAction;
}

/** Runs the stress: `clients` loops of seeded random operations, `ops` in all. */
export async function runStress(options: StressOptions): Promise<StressResult> {
  const { send, members, clients } = options;
  const states = new Map<string, PairState>();
  const locks = new Map<string, Promise<void>>();
  const counts: Record<string, number> = {};
  const serverErrors: string[] = [];
  const inconsistent: string[] = [];
  let started = 0;
  const raceShare = options.raceShare ?? 0.1;

  const key = (x: number, y: number) => (x < y ? `${x}:${y}` : `${y}:${x}`);
  /** The state from `me`'s side. */
  const stateOf = (me: number, them: number) => {
    const low = states.get(key(me, them)) ?? 'none';
    return me < them ? low : mirror(low);
  };
  const setState = (me: number, them: number, state: PairState) =>
    states.set(key(me, them), me < them ? state : mirror(state));

  const call = async (label: string, member: number, method: string, path: string, body?: unknown) => {
    counts[label] = (counts[label] ?? 0) + 1;
    const reply = await send(member, method, path, body);
    if (reply.status >= 500)
      serverErrors.push(`${method} ${path} as ${member}: ${reply.status} ${JSON.stringify(reply.body)}`);
    else if (reply.status >= 400 && (typeof reply.body?.detail !== 'string' || typeof reply.body?.code !== 'string')) {
      inconsistent.push(`${method} ${path} as ${member}: ${reply.status} without detail and code`);
    }
    return reply;
  };

  /** Runs `work` holding the model's lock of the pair. */
  const withPair = async <T>(x: number, y: number, work: () => Promise<T>): Promise<T> => {
    const k = key(x, y);
    const before = locks.get(k) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = before.then(() => mine);
    locks.set(k, chained);
    await before;
    try {
      return await work();
    } finally {
      release();
      if (locks.get(k) === chained) locks.delete(k);
    }
  };

  /** Reads the pair from both sides: the state it shows, from x's side (undefined: no state shows that). */
  const readPair = async (x: number, y: number): Promise<PairState | undefined> => {
    const [mine, theirs] = await Promise.all([
      call('status read', x, 'GET', `/api/v2/user/${y}/connection_status/`),
      call('status read', y, 'GET', `/api/v2/user/${x}/connection_status/`),
    ]);
    const seen = `${mine.body?.connection_status}|${theirs.body?.connection_status}`;
    return (
      ['none', 'sent_pending', 'sent_rejected', 'received_pending', 'received_rejected', 'connected'] as const
    ).find((s) => SEEN(s) === seen);
  };

  const act = async (x: number, y: number, move: Move) => {
    const them = move.actor === x ? y : x;
    const before = stateOf(move.actor, them);
    const want = expected(before, move.action);
    const reply = await call(move.action, move.actor, 'POST', ACTION_PATH(move.action, them));
    if (!agrees(reply, want)) {
      inconsistent.push(
        `${move.actor} ${move.action} ${them} from ${before}: got ${reply.status} ${JSON.stringify(reply.body)}, the table says ${want.status} ${want.shown ?? ''}`,
      );
    }
    setState(move.actor, them, want.next);
  };

  /** Two actions at once: the answers must be those of one serial order; a read tells which. */
  const race = async (x: number, y: number, first: Move, second: Move) => {
    const start = stateOf(x, y);
    const [a, b] = await Promise.all(
      [first, second].map((m) => call(m.action, m.actor, 'POST', ACTION_PATH(m.action, m.actor === x ? y : x))),
    );
    // The state after each serial order, from x's side, when the answers agree with it.
    const finals: PairState[] = [];
    for (const [one, two, replyOne, replyTwo] of [
      [first, second, a, b],
      [second, first, b, a],
    ] as const) {
      const fromX = (m: Move, s: PairState) => (m.actor === x ? s : mirror(s));
      const w1 = expected(fromX(one, start), one.action);
      const mid = fromX(one, w1.next);
      const w2 = expected(fromX(two, mid), two.action);
      if (agrees(replyOne!, w1) && agrees(replyTwo!, w2)) finals.push(fromX(two, w2.next));
    }
    const seen = await readPair(x, y);
    if (finals.length === 0 || seen === undefined || !finals.includes(seen)) {
      inconsistent.push(
        `race on ${x}:${y} from ${start}: ${first.actor} ${first.action} → ${a!.status} ${JSON.stringify(a!.body)}, ${second.actor} ${second.action} → ${b!.status} ${JSON.stringify(b!.body)}; then the pair shows ${seen}`,
      );
    }
    if (seen !== undefined) setState(x, y, seen);
  };

  const client = async (index: number) => {
    const next = random(options.seed * 1000 + index);
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
    const pickPair = () => {
      const x = pick(members);
      let y = pick(members);
      while (y === x) y = pick(members);
      return x < y ? [x, y] : [y, x];
    };
    const move = (x: number, y: number): Move => ({ actor: next() < 0.5 ? x : y, action: pick(STRESS_ACTIONS) });
    while (started < options.ops) {
      started += 1;
      const roll = next();
      const [x, y] = pickPair() as [number, number];
      const me = next() < 0.5 ? x : y;
      if (roll < 0.6) {
        const m = move(x, y);
        await withPair(x, y, () => act(x, y, m));
      } else if (roll < 0.6 + raceShare) {
        const [m1, m2] = [move(x, y), move(x, y)];
        started += 1;
        await withPair(x, y, () => race(x, y, m1, m2));
      } else if (roll < 0.85) {
        // A pair's status as one side sees it: exactly the model's, the pair being locked.
        await withPair(x, y, async () => {
          const them = me === x ? y : x;
          const reply = await call('status read', me, 'GET', `/api/v2/user/${them}/connection_status/`);
          const want = statusOf(stateOf(me, them));
          if (reply.status !== 200 || reply.body?.connection_status !== want) {
            inconsistent.push(
              `${me} reads ${them}: ${reply.status} ${JSON.stringify(reply.body)}, the model says ${want}`,
            );
          }
        });
      } else {
        // Lists move under other clients' actions: only their answer is checked here, their content at the end.
        const path = pick([
          `/api/v2/user/${me}/connections/?limit=100`,
          '/api/v2/user/connection/requests/?limit=100',
          '/api/v2/user/connection/requests/?rejected=true',
          '/api/v2/user/connection/requests_sent/?limit=100',
          `/api/v2/user/${pick(members)}/is_connection/`,
        ]);
        const reply = await call('list read', me, 'GET', path);
        if (reply.status !== 200)
          inconsistent.push(`GET ${path} as ${me}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
    }
  };

  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  return { ops: started, counts, serverErrors, inconsistent, states };
}

/**
 * What the model says each member's lists hold at the end, from the pair states: connections,
 * pending requests received, rejected requests received, requests sent (rejected ones too: the
 * sender is never told).
 */
export function expectedLists(members: readonly number[], states: Map<string, PairState>) {
  const lists = new Map(
    members.map((m) => [
      m,
      { connections: [] as number[], received: [] as number[], rejected: [] as number[], sent: [] as number[] },
    ]),
  );
  for (const [k, low] of states) {
    const [x, y] = k.split(':').map(Number) as [number, number];
    for (const [me, them, state] of [
      [x, y, low],
      [y, x, mirror(low)],
    ] as const) {
      const list = lists.get(me)!;
      if (state === 'connected') list.connections.push(them);
      if (state === 'received_pending') list.received.push(them);
      if (state === 'received_rejected') list.rejected.push(them);
      if (state === 'sent_pending' || state === 'sent_rejected') list.sent.push(them);
    }
  }
  for (const list of lists.values()) for (const ids of Object.values(list)) ids.sort((p, q) => p - q);
  return lists;
}
