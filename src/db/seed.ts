import { type Kysely, sql } from 'kysely';
import { countViolations, invariantNamed } from './repositories/graph-invariants.js';
import { countStaleUserJson, renderStoredUsers } from './repositories/user-json.js';
import type { DB } from './schema.js';

type Executor = Kysely<DB>;

export interface SeedOptions {
  users: number;
  /** Pending requests to the celebrity (the last seeded user), from as many distinct users. */
  celebrityRequests: number;
  /** Followers of the celebrity, from as many distinct users (default: min(users - 1, 150,000)). */
  celebrityFollowers?: number;
  seed: number;
  /** Drop secondary indexes and foreign keys around the load and rebuild them (default: users >= 20,000). */
  bulk?: boolean;
  log?: (message: string) => void;
}

export interface SeedCheck {
  /** Stored connection and request counters that differ from the rows. */
  wrongCounters: number;
  /** Pairs that hold both a request and a connection. */
  overlaps: number;
  /** (user, day) pending counts that differ from the rows. */
  wrongDays: number;
  /** Users whose stored JSON differs from their row. */
  staleJson: number;
  /** Stored followers and followings counters that differ from the follows rows. */
  wrongFollowCounters: number;
  /** (user, day) follower counts that differ from the follows rows. */
  wrongFollowDays: number;
  /** Waiting requests withheld while their recipient does not hide their sender, or the other way round. */
  wrongWithheld: number;
}

export interface SeedResult {
  users: number;
  firstUserId: number;
  lastUserId: number;
  celebrity: { id: number; pending: number; followers: number };
  typical: { id: number; pending: number; connections: number };
  rows: { users: number; connections: number; pending: number; rejected: number; follows: number; total: number };
  seconds: number;
  check: SeedCheck;
}

const PRIMES = [1_000_003, 999_983, 104_729, 7_919, 997, 101, 7];

/** The default number of the celebrity's followers: the bench's celebrity has 100,000+. */
export const defaultCelebrityFollowers = (users: number) => Math.min(users - 1, 150_000);

/** A stride that visits k * step mod (n - 1) as distinct values: a prime that does not divide n - 1. */
const strideFor = (n: number) => PRIMES.find((p) => (n - 1) % p !== 0 && p < n - 1) ?? 1;

/** A uniform number in [0, 1) from (x, k) and the seed: one hash per (row, purpose). */
const uniform = (seed: number) => (x: ReturnType<typeof sql>, k: number) =>
  sql`((hashint8extended(${x}, ${seed * 64 + k}::bigint) & 9007199254740991)::float8 / 9007199254740992.0)`;

/** Every seeded relation is created within the year before this instant. */
const ANCHOR = sql`timestamptz '2026-01-01 00:00:00+00'`;

/**
 * Fills the database with a reproducible community, generated inside the database in a handful of
 * set-based statements (one transaction):
 * - each user starts a Pareto-distributed number of friendships and of requests (mean about 3 each),
 *   70% / 40% of them inside the user's block of 50 ids (so friends share friends), the others to
 *   a power-law-chosen user (low ids are the popular ones);
 * - a pair holds at most one relation: a connection (stored both ways), a pending request or a
 *   rejected one (about 20% of requests);
 * - the last seeded user is the celebrity: exactly `celebrityRequests` pending requests, from
 *   distinct users;
 * - follows, independent of the friendship graph (`generateFollows`): each user follows a
 *   Pareto-distributed number of others (mean about 5), and the celebrity has exactly
 *   `celebrityFollowers` followers;
 * - counters and per-day pending and follower counts are computed from the rows, then checked.
 * Randomness is `hashint8extended(i, seed)`: the same (users, celebrityRequests,
 * celebrityFollowers, seed) gives the same data.
 */
export async function seedCommunity(db: Executor, options: SeedOptions): Promise<SeedResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const n = options.users;
  const m = options.celebrityRequests;
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError('users must be at least 2');
  if (!Number.isSafeInteger(m) || m < 0 || m > n - 1) throw new RangeError('celebrity requests must be 0..users-1');
  const followers = options.celebrityFollowers ?? defaultCelebrityFollowers(n);
  checkCelebrityFollowers(n, followers);
  const bulk = options.bulk ?? n >= 20_000;
  const step = strideFor(n);
  const rnd = uniform(options.seed);
  const timed = timer(log);

  const result = await db.transaction().execute(async (tx) => {
    await sql`SET LOCAL work_mem = '256MB'`.execute(tx);
    await sql`SET LOCAL maintenance_work_mem = '512MB'`.execute(tx);
    const { rows: baseRows } = await sql<{ base: number }>`SELECT coalesce(max(id), 0) AS base FROM users`.execute(tx);
    const base = Number(baseRows[0]!.base);
    const anchor = ANCHOR;
    const i = sql.ref('g.i');

    await timed('edges', async () => {
      await sql`CREATE TEMP TABLE seed_edge (a integer, b integer, kind "char", prio integer, created timestamptz) ON COMMIT DROP`.execute(
        tx,
      );
      // Friendships and requests started by each user i (1..n; the celebrity n is left out).
      await sql`
        INSERT INTO seed_edge
        SELECT g.i, CASE WHEN ${rnd(sql`g.i::bigint * 1000 + j`, 2)} < 0.7
                      THEN least(((g.i - 1) / 50) * 50 + 1 + floor(${rnd(sql`g.i::bigint * 1000 + j`, 3)} * 50)::int, ${n - 1})
                      ELSE 1 + floor(${n - 1} * power(${rnd(sql`g.i::bigint * 1000 + j`, 3)}, 3))::int END,
               'c', 2, ${anchor} - floor(${rnd(sql`g.i::bigint * 1000 + j`, 4)} * 31536000000) * interval '1 ms'
        FROM generate_series(1, ${n - 1}) AS g(i),
             generate_series(1, least(floor(1.8 * power(1 - ${rnd(i, 1)}, -1 / 1.5)), 400)::int - 1) AS j`.execute(tx);
      await sql`
        INSERT INTO seed_edge
        SELECT g.i, CASE WHEN ${rnd(sql`g.i::bigint * 1000 + j`, 6)} < 0.4
                      THEN least(((g.i - 1) / 50) * 50 + 1 + floor(${rnd(sql`g.i::bigint * 1000 + j`, 7)} * 50)::int, ${n - 1})
                      ELSE 1 + floor(${n - 1} * power(${rnd(sql`g.i::bigint * 1000 + j`, 7)}, 2.5))::int END,
               CASE WHEN ${rnd(sql`g.i::bigint * 1000 + j`, 8)} < 0.2 THEN 'r' ELSE 'p' END, 3,
               ${anchor} - floor(${rnd(sql`g.i::bigint * 1000 + j`, 9)} * 31536000000) * interval '1 ms'
        FROM generate_series(1, ${n - 1}) AS g(i),
             generate_series(1, least(floor(1.5 * power(1 - ${rnd(i, 5)}, -1 / 1.5)), 400)::int - 1) AS j`.execute(tx);
      // The celebrity's requests: k * step mod (n - 1) visits distinct users; they win over any other relation.
      await sql`
        INSERT INTO seed_edge
        SELECT 1 + ((k::bigint * ${step}) % ${n - 1})::int, ${n}, 'p', 1,
               ${anchor} - floor(${rnd(sql`k`, 10)} * 31536000000) * interval '1 ms'
        FROM generate_series(0, ${m - 1}) AS k`.execute(tx);
    });

    await timed('pairs', async () => {
      await sql`
        CREATE TEMP TABLE seed_pair ON COMMIT DROP AS
        SELECT DISTINCT ON (least(a, b), greatest(a, b)) a, b, kind, created
        FROM seed_edge WHERE a <> b
        ORDER BY least(a, b), greatest(a, b), prio, a, b`.execute(tx);
      await sql`DROP TABLE seed_edge`.execute(tx);
      await sql`
        CREATE TEMP TABLE seed_count ON COMMIT DROP AS
        SELECT id, sum(c)::int AS c, sum(s)::int AS s, sum(r)::int AS r FROM (
          SELECT a AS id, (kind = 'c')::int AS c, (kind <> 'c')::int AS s, 0 AS r FROM seed_pair
          UNION ALL
          SELECT b, (kind = 'c')::int, 0, (kind = 'p')::int FROM seed_pair
        ) x GROUP BY id`.execute(tx);
      await sql`CREATE INDEX ON seed_count (id)`.execute(tx);
    });

    // Before the users: their rows carry the follow counters, which their stored JSON shows.
    await timed('follow edges', () =>
      generateFollows(tx, { users: n, celebrityFollowers: followers, seed: options.seed }),
    );

    const dropped = bulk ? await dropForBulkLoad(tx) : { indexes: [], constraints: [] };

    await timed('users', async () => {
      await sql`ALTER TABLE connection_requests DISABLE TRIGGER connection_requests_count_days`.execute(tx);
      await bulkLoad(tx, true);
      await sql`
        INSERT INTO users (id, username, real_name, avatar, bio, location, gender, reputation, community_badge,
                           date_of_birth, description, date_joined,
                           connections_count, requests_sent_count, requests_received_count,
                           followers_count, followings_count)
        SELECT ${base} + g.i, 'member_' || (${base} + g.i),
               CASE WHEN g.i = ${n} THEN 'A Celebrity' ELSE 'Member ' || (${base} + g.i) END,
               CASE WHEN ${rnd(i, 11)} < 0.6 THEN 'https://cdn.example.org/avatars/' || (${base} + g.i) || '.png' END,
               CASE WHEN ${rnd(i, 12)} < 0.3 THEN 'Hello, I am "member ' || g.i || E'".\\nI like \\\\ and ünïcode.' ELSE '' END,
               (ARRAY['', 'Milano', 'Berlin', 'Lyon', 'São Paulo'])[1 + floor(${rnd(i, 13)} * 5)::int],
               (ARRAY['Unspecified', 'Male', 'Female'])[1 + floor(${rnd(i, 14)} * 3)::int],
               floor(power(${rnd(i, 15)}, 4) * 5000)::int, ${rnd(i, 16)} < 0.01,
               CASE WHEN ${rnd(i, 17)} < 0.4 THEN date '1960-01-01' + floor(${rnd(i, 18)} * 16000)::int END,
               CASE WHEN ${rnd(i, 19)} < 0.2 THEN 'Member since day one' ELSE '' END,
               ${anchor} - interval '365 days' - floor(${rnd(i, 20)} * 63072000000) * interval '1 ms',
               coalesce(c.c, 0), coalesce(c.s, 0), coalesce(c.r, 0), coalesce(f.followers, 0), coalesce(f.followings, 0)
        FROM generate_series(1, ${n}) AS g(i) LEFT JOIN seed_count c ON c.id = g.i
          LEFT JOIN seed_follow_count f ON f.id = g.i`.execute(tx);
      await sql`SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))`.execute(tx);
      // The list JSON comes from the server's own renderer, as for every user the server writes;
      // the rows already hold every counter it shows.
      await renderStoredUsers(tx, base + 1);
    });

    await timed('connections', async () => {
      await sql`
        INSERT INTO connections (user_id, friend_id, created)
        SELECT ${base} + a, ${base} + b, created FROM seed_pair WHERE kind = 'c'
        UNION ALL
        SELECT ${base} + b, ${base} + a, created FROM seed_pair WHERE kind = 'c'`.execute(tx);
    });

    await timed('requests', async () => {
      await sql`
        INSERT INTO connection_requests (from_user_id, to_user_id, created, rejected, viewed)
        SELECT ${base} + a, ${base} + b, created,
               CASE WHEN kind = 'r' THEN created + interval '1 hour' * (1 + (a + b) % 200) END,
               CASE WHEN kind = 'r' OR (a * 7 + b) % 10 < 3 THEN created + interval '1 minute' * (1 + (a + b) % 600) END
        FROM seed_pair WHERE kind <> 'c' ORDER BY created`.execute(tx);
      // Only the new members' days (ids above base): no row can exist yet. In key order: the
      // primary key is filled left to right (unordered, with ON CONFLICT, this took 17.9 of the
      // 300k seed's 22 s of requests).
      await sql`
        INSERT INTO connection_request_days (to_user_id, day, pending)
        SELECT ${base} + b, kith_request_day(created), count(*) FROM seed_pair WHERE kind = 'p' GROUP BY 1, 2
        ORDER BY 1, 2`.execute(tx);
      await sql`ALTER TABLE connection_requests ENABLE TRIGGER connection_requests_count_days`.execute(tx);
      await bulkLoad(tx, false);
    });

    await timed('follows', () => loadFollows(tx, base));

    if (bulk) await timed('indexes and keys', () => restoreAfterBulkLoad(tx, dropped));

    const { rows: totals } = await sql<{ c: number; p: number; r: number; f: number }>`
      SELECT count(*) FILTER (WHERE kind = 'c')::int AS c, count(*) FILTER (WHERE kind = 'p')::int AS p,
             count(*) FILTER (WHERE kind = 'r')::int AS r, (SELECT count(*)::int FROM seed_follow) AS f
      FROM seed_pair`.execute(tx);
    return { base, totals: totals[0]! };
  });

  log('vacuum analyze');
  await sql`VACUUM (ANALYZE) users, user_json, connections, connection_requests, connection_request_days, follows, follow_days`.execute(
    db,
  );

  const check = await checkCommunity(db);
  const celebrityId = result.base + n;
  const { rows: celeb } = await sql<{ pending: number; followers: number }>`
    SELECT requests_received_count AS pending, followers_count AS followers FROM users WHERE id = ${celebrityId}`.execute(
    db,
  );
  const typical = await typicalUser(db, result.base, celebrityId);
  const t = result.totals;
  return {
    users: n,
    firstUserId: result.base + 1,
    lastUserId: celebrityId,
    celebrity: { id: celebrityId, pending: celeb[0]?.pending ?? 0, followers: celeb[0]?.followers ?? 0 },
    typical,
    rows: {
      users: n,
      connections: 2 * t.c,
      pending: t.p,
      rejected: t.r,
      follows: t.f,
      total: n + 2 * t.c + t.p + t.r + t.f,
    },
    seconds: Math.round((performance.now() - started) / 100) / 10,
    check,
  };
}

export interface FollowSeedOptions {
  /** The community's members: the contiguous ids first..last; the last one is the celebrity. */
  firstUserId: number;
  lastUserId: number;
  /** Followers of the celebrity (default: min(users - 1, 150,000)). */
  celebrityFollowers?: number;
  seed: number;
  /** Drop the follows' secondary indexes and foreign keys around the load (default: users >= 20,000). */
  bulk?: boolean;
  log?: (message: string) => void;
}

export interface FollowSeedResult {
  follows: number;
  celebrity: { id: number; followers: number };
  seconds: number;
  check: SeedCheck;
}

/**
 * Adds `seedCommunity`'s follows to a community seeded before follow mode existed (members
 * `firstUserId..lastUserId`, no follow yet): the same rows, day counts and counters a fresh seed
 * with these options makes, then the stored JSON of every member again (it shows the counters).
 * Refuses when any follow exists: it sets counters, it does not add to them.
 */
export async function seedFollows(db: Executor, options: FollowSeedOptions): Promise<FollowSeedResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const base = options.firstUserId - 1;
  const n = options.lastUserId - base;
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError('the community must have at least 2 users');
  const followers = options.celebrityFollowers ?? defaultCelebrityFollowers(n);
  checkCelebrityFollowers(n, followers);
  const timed = timer(log);

  const follows = await db.transaction().execute(async (tx) => {
    await sql`SET LOCAL work_mem = '256MB'`.execute(tx);
    await sql`SET LOCAL maintenance_work_mem = '512MB'`.execute(tx);
    // Blocks concurrent follows until commit, so "none yet" stays true while this runs.
    await sql`LOCK TABLE follows IN SHARE ROW EXCLUSIVE MODE`.execute(tx);
    const { rows: any } = await sql<{ found: boolean }>`SELECT EXISTS (SELECT 1 FROM follows) AS found`.execute(tx);
    if (any[0]!.found) throw new Error('the community has follows already');
    const { rows: members } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM users WHERE id BETWEEN ${base + 1} AND ${base + n}`.execute(tx);
    if (members[0]!.n !== n) throw new Error(`users ${base + 1}..${base + n} are not all there`);

    await timed('follow edges', () =>
      generateFollows(tx, { users: n, celebrityFollowers: followers, seed: options.seed }),
    );
    const bulk = options.bulk ?? n >= 20_000;
    const dropped = bulk ? await dropForBulkLoad(tx, FOLLOW_TABLES) : { indexes: [], constraints: [] };
    await timed('follows', () => loadFollows(tx, base));
    if (bulk) await timed('indexes and keys', () => restoreAfterBulkLoad(tx, dropped));
    await timed('counters and user JSON', async () => {
      await sql`
        UPDATE users u SET followers_count = f.followers, followings_count = f.followings
        FROM seed_follow_count f WHERE u.id = ${base} + f.id`.execute(tx);
      await renderStoredUsers(tx, base + 1);
    });
    const { rows } = await sql<{ f: number }>`SELECT count(*)::int AS f FROM seed_follow`.execute(tx);
    return rows[0]!.f;
  });

  log('vacuum analyze');
  await sql`VACUUM (ANALYZE) users, user_json, follows, follow_days`.execute(db);
  const celebrityId = base + n;
  const { rows: celeb } = await sql<{ followers: number }>`
    SELECT followers_count AS followers FROM users WHERE id = ${celebrityId}`.execute(db);
  return {
    follows,
    celebrity: { id: celebrityId, followers: celeb[0]?.followers ?? 0 },
    seconds: Math.round((performance.now() - started) / 100) / 10,
    check: await checkCommunity(db),
  };
}

function checkCelebrityFollowers(users: number, followers: number) {
  if (!Number.isSafeInteger(followers) || followers < 0 || followers > users - 1) {
    throw new RangeError('celebrity followers must be 0..users-1');
  }
}

/**
 * The phases of `seedCommunity` in order, with their share of its time (measured: a 300,000-member
 * seed on this project's 2-core machine), so a terminal can show how far it is and an estimate of
 * what is left.
 */
export const SEED_PHASES: ReadonlyArray<{ label: string; share: number }> = [
  { label: 'edges', share: 0.12 },
  { label: 'pairs', share: 0.12 },
  { label: 'follow edges', share: 0.05 },
  { label: 'users', share: 0.15 },
  { label: 'connections', share: 0.08 },
  { label: 'requests', share: 0.1 },
  { label: 'follows', share: 0.16 },
  { label: 'indexes and keys', share: 0.1 },
  { label: 'vacuum analyze', share: 0.12 },
];

/** How many members (the administrator aside) the database holds: a seed refuses a non-empty one unless told. */
export async function existingMembers(db: Executor): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE id > 1`.execute(db);
  return rows[0]!.n;
}

function timer(log: (message: string) => void) {
  return async (label: string, run: () => Promise<unknown>) => {
    const t = performance.now();
    await run();
    log(`${label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };
}

/**
 * The follows of a community of `users` members (ids relative: 1..users, the celebrity last), into
 * the transaction's temp tables `seed_follow (a follows b, created)` and `seed_follow_count (id,
 * followers, followings)`:
 * - each member but the celebrity follows a Pareto-distributed number of others (x_m 2.4,
 *   alpha 1.5, at most 399: mean about 5), 30% inside its block of 50 ids, the others a
 *   power-law-chosen member (low ids are the popular ones, as for friendships);
 * - the celebrity has exactly `celebrityFollowers` followers: k * stride mod (users - 1) visits
 *   distinct members (nobody else follows it: the other follows stop at users - 1);
 * - no self-follow, no duplicate; created within the year before the anchor.
 */
async function generateFollows(tx: Executor, options: { users: number; celebrityFollowers: number; seed: number }) {
  const n = options.users;
  const rnd = uniform(options.seed);
  const i = sql.ref('g.i');
  const ij = sql`g.i::bigint * 1000 + j`;
  await sql`
    CREATE TEMP TABLE seed_follow ON COMMIT DROP AS
    SELECT DISTINCT ON (a, b) a, b, created FROM (
      SELECT g.i AS a,
             CASE WHEN ${rnd(ij, 22)} < 0.3
               THEN least(((g.i - 1) / 50) * 50 + 1 + floor(${rnd(ij, 23)} * 50)::int, ${n - 1})
               ELSE 1 + floor(${n - 1} * power(${rnd(ij, 23)}, 3))::int END AS b,
             ${ANCHOR} - floor(${rnd(ij, 24)} * 31536000000) * interval '1 ms' AS created
      FROM generate_series(1, ${n - 1}) AS g(i),
           generate_series(1, least(floor(2.4 * power(1 - ${rnd(i, 21)}, -1 / 1.5)), 400)::int - 1) AS j
      UNION ALL
      SELECT 1 + ((k::bigint * ${strideFor(n)}) % ${n - 1})::int, ${n},
             ${ANCHOR} - floor(${rnd(sql`k`, 25)} * 31536000000) * interval '1 ms'
      FROM generate_series(0, ${options.celebrityFollowers - 1}) AS k
    ) e
    WHERE a <> b
    ORDER BY a, b, created`.execute(tx);
  await sql`
    CREATE TEMP TABLE seed_follow_count ON COMMIT DROP AS
    SELECT id, sum(followers)::int AS followers, sum(followings)::int AS followings FROM (
      SELECT b AS id, 1 AS followers, 0 AS followings FROM seed_follow
      UNION ALL
      SELECT a, 0, 1 FROM seed_follow
    ) x GROUP BY id`.execute(tx);
  await sql`CREATE INDEX ON seed_follow_count (id)`.execute(tx);
}

/**
 * Tells the relations' graph-version triggers (migration 0016) that this transaction bulk-loads.
 * The seed's relations are between members whose rows it writes in the same load (new rows, or
 * counters it changes, which the users trigger sees); the relations' triggers would update every
 * member once more per table (about 50 s per table for 300,000 members here).
 */
async function bulkLoad(tx: Executor, on: boolean) {
  await sql`SELECT set_config('kith.bulk_load', ${on ? 'on' : 'off'}, true)`.execute(tx);
}

/**
 * Inserts `seed_follow` (ids offset by `base`) and its per-day follower counts, computed as the
 * trigger would (day = kith_request_day(created)); the trigger is off meanwhile.
 */
async function loadFollows(tx: Executor, base: number) {
  await sql`ALTER TABLE follows DISABLE TRIGGER follows_count_days`.execute(tx);
  await bulkLoad(tx, true);
  await sql`
    INSERT INTO follows (follower_id, followed_id, created)
    SELECT ${base} + a, ${base} + b, created FROM seed_follow`.execute(tx);
  // Only the new members' days (ids above base; seedFollows refuses a community with follows):
  // no row can exist yet. In key order, as for the request days (15.8 of 18.9 s at 300k before).
  await sql`
    INSERT INTO follow_days (followed_id, day, followers)
    SELECT ${base} + b, kith_request_day(created), count(*) FROM seed_follow GROUP BY 1, 2
    ORDER BY 1, 2`.execute(tx);
  await sql`ALTER TABLE follows ENABLE TRIGGER follows_count_days`.execute(tx);
  await bulkLoad(tx, false);
}

/** A member with a full first page of pending requests: the median of those with 20 to 200. */
async function typicalUser(db: Executor, base: number, celebrityId: number) {
  const { rows } = await sql<{ id: number; pending: number; connections: number }>`
    WITH c AS (
      SELECT id, requests_received_count AS pending, connections_count AS connections FROM users
      WHERE id > ${base} AND id <> ${celebrityId} AND requests_received_count BETWEEN 20 AND 200
    )
    SELECT * FROM c ORDER BY pending, id OFFSET (SELECT count(*) / 2 FROM c) LIMIT 1`.execute(db);
  if (rows[0]) return rows[0];
  const { rows: any } = await sql<{ id: number; pending: number; connections: number }>`
    SELECT id, requests_received_count AS pending, connections_count AS connections FROM users
    WHERE id > ${base} AND id <> ${celebrityId} ORDER BY requests_received_count DESC, id LIMIT 1`.execute(db);
  return any[0]!;
}

/**
 * Recomputes every counter, the per-day pending and follower counts, the stored JSON and the
 * no-overlap rule from the rows: the invariant queries `kith check` runs (graph-invariants.ts).
 */
export async function checkCommunity(db: Executor): Promise<SeedCheck> {
  const n = (name: string) => countViolations(db, invariantNamed(name));
  // The stored JSON's check renders every user in Node while PostgreSQL runs the SQL invariants on
  // another pooled connection (one after the other: a second scan at a time would compete for the
  // same cores). On PGlite, one connection, the two take turns.
  const [staleJson, sqlChecks] = await Promise.all([
    countStaleUserJson(db),
    (async () => ({
      wrongCounters:
        (await n('users.connections_count')) +
        (await n('users.requests_sent_count')) +
        (await n('users.requests_received_count')),
      overlaps: await n('request_between_connected'),
      wrongDays: await n('connection_request_days'),
      wrongFollowCounters: (await n('users.followers_count')) + (await n('users.followings_count')),
      wrongFollowDays: await n('follow_days'),
      wrongWithheld: await n('connection_requests.withheld'),
    }))(),
  ]);
  const { wrongCounters, overlaps, wrongDays, wrongFollowCounters, wrongFollowDays, wrongWithheld } = sqlChecks;
  return { wrongCounters, overlaps, wrongDays, staleJson, wrongFollowCounters, wrongFollowDays, wrongWithheld };
}

interface Dropped {
  indexes: string[];
  constraints: Array<{ table: string; name: string; definition: string }>;
}

// user_json and connection_request_days too: a foreign key checks (and locks) its users row for
// every row inserted.
const BULK_TABLES = [
  'users',
  'user_json',
  'connections',
  'connection_requests',
  'connection_request_days',
  'follows',
  'follow_days',
];
const FOLLOW_TABLES = ['follows', 'follow_days'];

/** Drops secondary indexes and foreign keys of the loaded tables; returns how to rebuild them. */
async function dropForBulkLoad(db: Executor, tables: string[] = BULK_TABLES): Promise<Dropped> {
  const { rows: constraints } = await sql<{ table: string; name: string; definition: string }>`
    SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(${tables})`.execute(db);
  const { rows: indexes } = await sql<{ name: string; definition: string }>`
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    WHERE i.indrelid::regclass::text = ANY(${tables}) AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`.execute(db);
  for (const c of constraints) {
    await sql`ALTER TABLE ${sql.id(c.table)} DROP CONSTRAINT ${sql.id(c.name)}`.execute(db);
  }
  for (const i of indexes) await sql`DROP INDEX ${sql.raw(i.name)}`.execute(db);
  return { indexes: indexes.map((i) => i.definition), constraints };
}

async function restoreAfterBulkLoad(db: Executor, dropped: Dropped) {
  for (const definition of dropped.indexes) await sql.raw(definition).execute(db);
  // Statistics before the keys are checked: the planner picks each key's check (an anti-join over
  // the whole table) from them; without any, the connections' key on itself took twice as long
  // (300k: 3.4 → 1.7 s for 0.3 s of ANALYZE; 1m: 35.4 s, then 6.9). VACUUM (ANALYZE) renews them.
  if (dropped.constraints.length > 0) await sql`ANALYZE connections, connection_requests, follows`.execute(db);
  for (const c of dropped.constraints) {
    await sql`ALTER TABLE ${sql.id(c.table)} ADD CONSTRAINT ${sql.id(c.name)} ${sql.raw(c.definition)}`.execute(db);
  }
}
