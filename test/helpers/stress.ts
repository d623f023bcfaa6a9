import {
  CONNECTION_ACTIONS,
  type ConnectionAction,
  mirror,
  PAIR_STATES,
  type PairHides,
  type PairState,
  statusOf,
  transition,
} from '../../src/domain/connection-state.js';
import { type FollowState, followStatusOf, planFollow } from '../../src/domain/follow-state.js';

// Model-checked stress runs over real HTTP: clients pick seeded random actions and reads on the
// pairs of a few hot members. The model holds each pair from its lower id's side: in friendship
// mode its state and who hides whom, in follow mode who follows whom and who hides whom. A client
// locks the pair it acts on in the model (not in the server), so it knows the pair before its
// action and the one answer the domain's pure tables allow (`transition` with the pair's real
// hides; `planFollow`); a "race" fires two actions on one pair at once and accepts the answers of
// either serial order, then reads the pair from both sides to learn which order the server took.
// Actions on different pairs of the same members run concurrently: that is what races on the counters.

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

interface Tallies {
  ops: number;
  counts: Record<string, number>;
  /** Answers with a 5xx status. */
  serverErrors: string[];
  /** Answers no serial order of the actions allows. */
  inconsistent: string[];
}

/** A friendship pair as one side sees it: the state and who hides whom. */
export interface Side {
  state: PairState;
  hides: PairHides;
}

export interface StressResult extends Tallies {
  /** Every pair at the end, from the lower id's side: `${low}:${high}`. */
  states: Map<string, Side>;
  /** Every state a pair was in at some point, from the lower id's side. */
  reached: Set<PairState>;
}

export const pairKey = (x: number, y: number) => (x < y ? `${x}:${y}` : `${y}:${x}`);

/** The calls (5xx and error bodies without `detail` and `code` recorded) and the model's pair locks. */
function harness(send: Send) {
  const tallies: Tallies = { ops: 0, counts: {}, serverErrors: [], inconsistent: [] };
  const locks = new Map<string, Promise<void>>();

  const call = async (label: string, member: number, method: string, path: string) => {
    tallies.counts[label] = (tallies.counts[label] ?? 0) + 1;
    const reply = await send(member, method, path);
    if (reply.status >= 500)
      tallies.serverErrors.push(`${method} ${path} as ${member}: ${reply.status} ${JSON.stringify(reply.body)}`);
    else if (reply.status >= 400 && (typeof reply.body?.detail !== 'string' || typeof reply.body?.code !== 'string')) {
      tallies.inconsistent.push(`${method} ${path} as ${member}: ${reply.status} without detail and code`);
    }
    return reply;
  };

  /** Runs `work` holding the model's lock of the pair. */
  const withPair = async <T>(x: number, y: number, work: () => Promise<T>): Promise<T> => {
    const k = pairKey(x, y);
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

  /** A checked read: 200 and the value the model says, or an inconsistency. */
  const expectRead = async (member: number, path: string, field: string, want: unknown) => {
    const reply = await call('status read', member, 'GET', path);
    if (reply.status !== 200 || reply.body?.[field] !== want) {
      tallies.inconsistent.push(
        `${member} reads ${path}: ${reply.status} ${JSON.stringify(reply.body)}, the model says ${field} ${want}`,
      );
    }
  };

  /** A list read: other clients move it, so only its answer is checked here (its content at the end). */
  const listRead = async (member: number, path: string) => {
    const reply = await call('list read', member, 'GET', path);
    if (reply.status !== 200)
      tallies.inconsistent.push(`GET ${path} as ${member}: ${reply.status} ${JSON.stringify(reply.body)}`);
  };

  /** Whether each side hides the other, read from both: `[x hides y, y hides x]`. */
  const readHides = async (x: number, y: number): Promise<[boolean, boolean] | undefined> => {
    const [a, b] = await Promise.all([
      call('pair read', x, 'GET', `/api/v2/user/${y}/is_hidden/`),
      call('pair read', y, 'GET', `/api/v2/user/${x}/is_hidden/`),
    ]);
    const [byX, byY] = [a.body?.is_hidden, b.body?.is_hidden];
    return typeof byX === 'boolean' && typeof byY === 'boolean' ? [byX, byY] : undefined;
  };

  return { tallies, call, withPair, expectRead, listRead, readHides };
}

interface Turn {
  /** The pair, lower id first, and one of its sides with the other. */
  x: number;
  y: number;
  me: number;
  them: number;
  roll: number;
  next: () => number;
  pick: <T>(list: readonly T[]) => T;
  /** Counts one more operation (a race is two). */
  claim: () => void;
}

/** `clients` loops of seeded random turns on pairs of `members`, `ops` in all. */
async function drive(options: StressOptions, tallies: Tallies, turn: (t: Turn) => Promise<void>) {
  const { members } = options;
  const client = async (index: number) => {
    const next = random(options.seed * 1000 + index);
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
    while (tallies.ops < options.ops) {
      tallies.ops += 1;
      const roll = next();
      const a = pick(members);
      let b = pick(members);
      while (b === a) b = pick(members);
      const [x, y] = a < b ? [a, b] : [b, a];
      const me = next() < 0.5 ? x : y;
      await turn({ x, y, me, them: me === x ? y : x, roll, next, pick, claim: () => (tallies.ops += 1) });
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
}

type Io = ReturnType<typeof harness>;

interface Move<A> {
  actor: number;
  action: A;
}

/** The answer a table gives to a move: the status code and the connection status (undefined: not checked). */
interface Want<S> {
  status: number;
  next: S;
  shown?: string;
}

/** What a mode's model is made of; the runner (locks, actions, races, reads) is the same for both. */
interface ModelSpec<S extends { hides: PairHides }, A extends string> {
  empty: S;
  moves: readonly A[];
  /** The side as the other member sees it. */
  flip: (side: S) => S;
  same: (a: S, b: S) => boolean;
  show: (side: S | undefined) => string;
  path: (action: A, them: number) => string;
  /** The answer the domain's table gives to a move of `pair.me` from a side, with the side after it. */
  expected: (before: S, action: A, pair: { me: number; them: number }) => Want<S>;
  /** Reads the pair from both sides, from x's side (undefined: nothing the model knows shows that); the hides only when `hidesMoved`. */
  readPair: (io: Io, x: number, y: number, hides: PairHides, hidesMoved: boolean) => Promise<S | undefined>;
  /** One checked read of `me`'s view of the pair (`kind` in [0, 1) picks which). */
  checkedRead: (io: Io, me: number, them: number, side: S, kind: number) => Promise<void>;
  /** The list reads (their content is checked at the end). */
  lists: (me: number, someone: number) => string[];
}

const agrees = (reply: Reply, want: { status: number; shown?: string }) =>
  reply.status === want.status &&
  (want.shown === undefined || JSON.stringify(reply.body?.connection_status) === want.shown) &&
  (reply.status !== 400 || reply.body?.code === 'invalid_connection_action');

const NOBODY: PairHides = { byMe: false, byThem: false };
const showHides = (hides: PairHides) => `${hides.byMe ? ', hiding them' : ''}${hides.byThem ? ', hidden by them' : ''}`;

/** Runs a mode's model: `clients` loops of seeded random operations, `ops` in all. */
async function runModel<S extends { hides: PairHides }, A extends string>(
  options: StressOptions,
  spec: ModelSpec<S, A>,
  onSet: (low: S) => void = () => {},
) {
  const io = harness(options.send);
  const { tallies, call, withPair, listRead } = io;
  const states = new Map<string, S>();
  const raceShare = options.raceShare ?? 0.1;

  /** The pair from `me`'s side. */
  const sideOf = (me: number, them: number): S => {
    const low = states.get(pairKey(me, them)) ?? spec.empty;
    return me < them ? low : spec.flip(low);
  };
  const setSide = (me: number, them: number, side: S) => {
    const low = me < them ? side : spec.flip(side);
    states.set(pairKey(me, them), low);
    onSet(low);
  };
  const post = (m: Move<A>, them: number) => call(m.action, m.actor, 'POST', spec.path(m.action, them));

  const act = async (x: number, y: number, move: Move<A>) => {
    const them = move.actor === x ? y : x;
    const before = sideOf(move.actor, them);
    const want = spec.expected(before, move.action, { me: move.actor, them });
    const reply = await post(move, them);
    if (!agrees(reply, want)) {
      tallies.inconsistent.push(
        `${move.actor} ${move.action} ${them} from ${spec.show(before)}: got ${reply.status} ${JSON.stringify(reply.body)}, the table says ${want.status} ${want.shown ?? ''}`,
      );
    }
    setSide(move.actor, them, want.next);
  };

  /** Two actions at once: the answers must be those of one serial order; a read tells which. */
  const race = async (x: number, y: number, first: Move<A>, second: Move<A>) => {
    const start = sideOf(x, y);
    const other = (m: Move<A>) => (m.actor === x ? y : x);
    const [a, b] = await Promise.all([first, second].map((m) => post(m, other(m))));
    // The pair after each serial order, from x's side, when the answers agree with it.
    const finals: S[] = [];
    for (const [one, two, replyOne, replyTwo] of [
      [first, second, a, b],
      [second, first, b, a],
    ] as const) {
      const fromX = (m: Move<A>, s: S) => (m.actor === x ? s : spec.flip(s));
      const w1 = spec.expected(fromX(one, start), one.action, { me: one.actor, them: other(one) });
      const mid = fromX(one, w1.next);
      const w2 = spec.expected(fromX(two, mid), two.action, { me: two.actor, them: other(two) });
      if (agrees(replyOne!, w1) && agrees(replyTwo!, w2)) finals.push(fromX(two, w2.next));
    }
    const hidesMoved = first.action === 'hide' || second.action === 'hide';
    const seen = await spec.readPair(io, x, y, start.hides, hidesMoved);
    if (finals.length === 0 || seen === undefined || !finals.some((f) => spec.same(f, seen))) {
      tallies.inconsistent.push(
        `race on ${x}:${y} from ${spec.show(start)}: ${first.actor} ${first.action} → ${a!.status} ${JSON.stringify(a!.body)}, ${second.actor} ${second.action} → ${b!.status} ${JSON.stringify(b!.body)}; then the pair shows ${spec.show(seen)}`,
      );
    }
    if (seen !== undefined) setSide(x, y, seen);
  };

  await drive(options, tallies, async ({ x, y, me, them, roll, next, pick, claim }) => {
    const move = (): Move<A> => ({ actor: next() < 0.5 ? x : y, action: pick(spec.moves) });
    if (roll < 0.6) {
      const m = move();
      await withPair(x, y, () => act(x, y, m));
    } else if (roll < 0.6 + raceShare) {
      const [m1, m2] = [move(), move()];
      claim();
      await withPair(x, y, () => race(x, y, m1, m2));
    } else if (roll < 0.85) {
      // One side's view of the pair: exactly the model's, the pair being locked.
      const kind = next();
      await withPair(x, y, () => spec.checkedRead(io, me, them, sideOf(me, them), kind));
    } else {
      await listRead(me, pick(spec.lists(me, pick(options.members))));
    }
  });
  return { tallies, states };
}

// ---- Friendship mode ----

/**
 * The moves the clients make: every friendship action, and `hide`, the toggle of
 * `POST /user/{id}/hide/`: the table's `hide` when the actor does not hide the other, its `unhide`
 * when they do.
 */
type FriendshipMove = Exclude<ConnectionAction, 'unhide'>;
const FRIENDSHIP_MOVES = CONNECTION_ACTIONS.filter((action): action is FriendshipMove => action !== 'unhide');

const flip = (side: Side): Side => ({
  state: mirror(side.state),
  hides: { byMe: side.hides.byThem, byThem: side.hides.byMe },
});

const SEEN = (state: PairState) => `${statusOf(state)}|${statusOf(mirror(state))}`;

/**
 * The answer the state table gives to a move from a side, with the side after it: the status code
 * and the connection status (undefined for 204 and 400).
 */
export function expected(before: Side, move: FriendshipMove): Want<Side> {
  const action: ConnectionAction = move === 'hide' && before.hides.byMe ? 'unhide' : move;
  const decided = transition(before.state, action, before.hides);
  if (!decided.ok) return { status: 400, next: before };
  if (move === 'hide')
    return { status: 204, next: { state: decided.next, hides: { ...before.hides, byMe: !before.hides.byMe } } };
  const next = { state: decided.next, hides: before.hides };
  if (move === 'mark_seen') return { status: 204, next };
  return { status: 200, next, shown: JSON.stringify(statusOf(decided.next)) };
}

const FRIENDSHIP: ModelSpec<Side, FriendshipMove> = {
  empty: { state: 'none', hides: NOBODY },
  moves: FRIENDSHIP_MOVES,
  flip,
  same: (a, b) => a.state === b.state && a.hides.byMe === b.hides.byMe && a.hides.byThem === b.hides.byThem,
  show: (side) => (side === undefined ? 'nothing the model knows' : `${side.state}${showHides(side.hides)}`),
  path: (action, them) =>
    action === 'hide'
      ? `/api/v2/user/${them}/hide/`
      : action === 'mark_seen'
        ? `/api/v2/user/${them}/connection_requests/mark_seen/`
        : `/api/v2/user/${them}/connection/${action}/`,
  expected: (before, move) => expected(before, move),
  /**
   * The two statuses tell every state apart but a request rejected from one out of its recipient's
   * sight (both show as sent to its sender, nothing to its recipient): the recipient's rejected
   * list tells those two apart.
   */
  readPair: async ({ call, readHides }, x, y, hides, hidesMoved) => {
    const [mine, theirs, read] = await Promise.all([
      call('pair read', x, 'GET', `/api/v2/user/${y}/connection_status/`),
      call('pair read', y, 'GET', `/api/v2/user/${x}/connection_status/`),
      hidesMoved ? readHides(x, y) : ([hides.byMe, hides.byThem] as [boolean, boolean]),
    ]);
    if (read === undefined) return undefined;
    const seen = `${mine.body?.connection_status}|${theirs.body?.connection_status}`;
    const alike = PAIR_STATES.filter((s) => SEEN(s) === seen);
    let state = alike[0];
    if (alike.length > 1) {
      const [sender, recipient] = alike[0]!.startsWith('sent_') ? [x, y] : [y, x];
      const list = await call(
        'pair read',
        recipient,
        'GET',
        '/api/v2/user/connection/requests/?rejected=true&limit=100',
      );
      if (list.status !== 200 || !Array.isArray(list.body?.results)) return undefined;
      const rejected = list.body.results.some((r: { from_user?: { id?: number } }) => r.from_user?.id === sender);
      state = alike.find((s) => s.endsWith(rejected ? '_rejected' : '_withheld'));
    }
    return state === undefined ? undefined : { state, hides: { byMe: read[0], byThem: read[1] } };
  },
  checkedRead: async ({ expectRead }, me, them, side, kind) => {
    if (kind < 0.7)
      await expectRead(me, `/api/v2/user/${them}/connection_status/`, 'connection_status', statusOf(side.state));
    else if (kind < 0.85) await expectRead(me, `/api/v2/user/${them}/is_hidden/`, 'is_hidden', side.hides.byMe);
    else await expectRead(me, `/api/v2/user/${them}/is_hidden_by/`, 'is_hidden_by', side.hides.byThem);
  },
  lists: (me, someone) => [
    `/api/v2/user/${me}/connections/?limit=100`,
    '/api/v2/user/connection/requests/?limit=100',
    '/api/v2/user/connection/requests/?rejected=true',
    '/api/v2/user/connection/requests_sent/?limit=100',
    `/api/v2/user/${someone}/is_connection/`,
    '/api/v2/user/hidden_users_id/',
    '/api/v2/user/hidden_users/?limit=100',
  ],
};

/** Runs the friendship stress: `clients` loops of seeded random operations, `ops` in all. */
export async function runStress(options: StressOptions): Promise<StressResult> {
  const reached = new Set<PairState>(['none']);
  const { tallies, states } = await runModel(options, FRIENDSHIP, (low) => reached.add(low.state));
  return { ...tallies, states, reached };
}

/**
 * What the model says each member's lists hold at the end, from the pairs: connections, pending
 * requests received (not those withheld: from members they hide), rejected requests received,
 * requests sent (rejected and withheld ones too: the sender is never told), the members they hide.
 */
export function expectedLists(members: readonly number[], states: Map<string, Side>) {
  const lists = new Map(
    members.map((m) => [
      m,
      {
        connections: [] as number[],
        received: [] as number[],
        rejected: [] as number[],
        sent: [] as number[],
        hidden: [] as number[],
      },
    ]),
  );
  for (const [k, low] of states) {
    const [x, y] = k.split(':').map(Number) as [number, number];
    for (const [me, them, side] of [
      [x, y, low],
      [y, x, flip(low)],
    ] as const) {
      const list = lists.get(me)!;
      const { state } = side;
      if (state === 'connected') list.connections.push(them);
      if (state === 'received_pending') list.received.push(them);
      if (state === 'received_rejected') list.rejected.push(them);
      if (state === 'sent_pending' || state === 'sent_rejected' || state === 'sent_withheld') list.sent.push(them);
      if (side.hides.byMe) list.hidden.push(them);
    }
  }
  for (const list of lists.values()) for (const ids of Object.values(list)) ids.sort((p, q) => p - q);
  return lists;
}

// ---- Follow mode ----

/** A pair in follow mode as one side sees it: whether I follow them, whether they follow me, who hides whom. */
export interface FollowSide {
  mine: FollowState;
  theirs: FollowState;
  hides: PairHides;
}

export interface FollowStressResult extends Tallies {
  /** Every pair at the end, from the lower id's side: `${low}:${high}`. */
  pairs: Map<string, FollowSide>;
}

/** The follow toggle (`POST /user/{id}/follow/`) and the hide toggle, which follow mode keeps. */
type FollowMove = 'follow' | 'hide';

const flipFollow = (side: FollowSide): FollowSide => ({
  mine: side.theirs,
  theirs: side.mine,
  hides: { byMe: side.hides.byThem, byThem: side.hides.byMe },
});

/**
 * The answer to a move of `me` from a side, with the side after it: both toggles answer 204. The
 * follow's next state is `planFollow`'s; hiding moves nothing of the follows (nor of the friendship
 * pair, which stays `none` while the community is in follow mode: those actions are refused).
 */
export function expectedFollow(
  before: FollowSide,
  move: FollowMove,
  pair: { me: number; them: number },
): Want<FollowSide> {
  if (move === 'hide')
    return { status: 204, next: { ...before, hides: { ...before.hides, byMe: !before.hides.byMe } } };
  const decided = planFollow(before.mine, 'follow', pair);
  if (!decided.ok) return { status: 400, next: before };
  return { status: 204, next: { ...before, mine: decided.next } };
}

const FOLLOW: ModelSpec<FollowSide, FollowMove> = {
  empty: { mine: 'none', theirs: 'none', hides: NOBODY },
  moves: ['follow', 'follow', 'follow', 'hide'],
  flip: flipFollow,
  same: (a, b) =>
    a.mine === b.mine && a.theirs === b.theirs && a.hides.byMe === b.hides.byMe && a.hides.byThem === b.hides.byThem,
  show: (side) =>
    side === undefined ? 'nothing the model knows' : `mine ${side.mine}, theirs ${side.theirs}${showHides(side.hides)}`,
  path: (move, them) => `/api/v2/user/${them}/${move}/`,
  expected: expectedFollow,
  /** is_followed from each side (and the hides). */
  readPair: async ({ call, readHides }, x, y, hides, hidesMoved) => {
    const [mine, theirs, read] = await Promise.all([
      call('pair read', x, 'GET', `/api/v2/user/${y}/is_followed/`),
      call('pair read', y, 'GET', `/api/v2/user/${x}/is_followed/`),
      hidesMoved ? readHides(x, y) : ([hides.byMe, hides.byThem] as [boolean, boolean]),
    ]);
    const [m, t] = [mine.body?.is_followed, theirs.body?.is_followed];
    if (read === undefined || typeof m !== 'boolean' || typeof t !== 'boolean') return undefined;
    return {
      mine: m ? 'following' : 'none',
      theirs: t ? 'following' : 'none',
      hides: { byMe: read[0], byThem: read[1] },
    };
  },
  checkedRead: async ({ expectRead }, me, them, side, kind) => {
    const path = (read: string) => `/api/v2/user/${them}/${read}/`;
    if (kind < 0.3) await expectRead(me, path('is_followed'), 'is_followed', side.mine === 'following');
    else if (kind < 0.6) await expectRead(me, path('is_follower'), 'is_follower', side.theirs === 'following');
    else if (kind < 0.85)
      await expectRead(me, path('connection_status'), 'connection_status', followStatusOf(side.mine));
    else await expectRead(me, path('is_hidden'), 'is_hidden', side.hides.byMe);
  },
  lists: (_me, someone) => [
    `/api/v2/user/${someone}/followers/?limit=100`,
    `/api/v2/user/${someone}/followings/?limit=100`,
    `/api/v2/user/${someone}/followers/?mutual=1`,
    `/api/v2/user/${someone}/followings/?mutual=0`,
    `/api/v2/user/${someone}/counters/`,
    '/api/v2/user/hidden_users_id/',
  ],
};

/** Runs the follow-mode stress (the community must be in follow mode): `clients` loops, `ops` operations in all. */
export async function runFollowStress(options: StressOptions): Promise<FollowStressResult> {
  const { tallies, states } = await runModel(options, FOLLOW);
  return { ...tallies, pairs: states };
}

/** What the model says each member's follow lists hold at the end: followers, followings, the members they hide. */
export function expectedFollowLists(members: readonly number[], pairs: Map<string, FollowSide>) {
  const lists = new Map(
    members.map((m) => [m, { followers: [] as number[], followings: [] as number[], hidden: [] as number[] }]),
  );
  for (const [k, low] of pairs) {
    const [x, y] = k.split(':').map(Number) as [number, number];
    for (const [me, them, side] of [
      [x, y, low],
      [y, x, flipFollow(low)],
    ] as const) {
      const list = lists.get(me)!;
      if (side.mine === 'following') list.followings.push(them);
      if (side.theirs === 'following') list.followers.push(them);
      if (side.hides.byMe) list.hidden.push(them);
    }
  }
  for (const list of lists.values()) for (const ids of Object.values(list)) ids.sort((p, q) => p - q);
  return lists;
}
