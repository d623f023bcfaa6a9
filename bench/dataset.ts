/**
 * The community the bench runs against: the database is created if missing, migrated, seeded when
 * it holds no member yet (given follows when it was seeded before follow mode), and read for the
 * members and pairs each case needs.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase as openKithDatabase } from '../src/db/database.js';
import type { DB } from '../src/db/schema.js';
import { seedFollows } from '../src/db/seed.js';
import { log, run } from './shell.js';

export interface DatasetStats {
  users: number;
  connections: number;
  pending: number;
  rejected: number;
  follows: number;
}

export interface Dataset {
  stats: DatasetStats;
  /** The member with the most pending requests. */
  celebrity: { id: number; pending: number };
  /** The member with the most followers (the seed's celebrity): cases 8, 9, 9b. */
  followed: { id: number; followers: number };
  /** The member with the most connections: case suggest-hub. */
  hub: { id: number; connections: number };
  /** The admin who switches the community's mode. */
  adminId: number;
  /** What `kith seed` printed, when this run seeded; null when the data was there already. */
  seeded: unknown;
  /** What `seedFollows` returned, when this run added follows to a dataset seeded without them. */
  followsAdded: unknown;
  /**
   * Case 2's members (and 2-304's, 5's, 6's, suggest's; the viewers of 8, 9, 9b and the searches):
   * `rotationIds(rotation)`.
   */
  typicalIds: number[];
  /** How those members are drawn, so pgbench draws the same ones. */
  rotation: Rotation;
  /** How full case 2's pages are, and the members' median connections (the same at every size: see `Rotation`). */
  fill: { full: number; avg: number; medianConnections: number };
  /** Case 5: each viewer and the friend whose connections they look at. */
  friendPairs: Array<{ viewer: number; target: number }>;
  /** Case 7: pairs with no relation yet, each used once. */
  freshPairs: Array<{ a: number; b: number }>;
}

/** The size whose members 2–1001 are the rotation: the first seeded members, the popular end of the graph. */
export const REFERENCE_MEMBERS = 300_000;

/**
 * The members a case rotates over: the k-th (0 ≤ k < count) is id `first + ⌊k · num / den⌋`.
 * The seed's power-law links land on a member with a probability that depends only on the
 * member's id over the community's size (the other end is `1 + ⌊(n − 1) · u³⌋`), so members at
 * the same fraction of a bigger community have the same degrees: at 300k the rotation is ids
 * 2–1001, at 1m every 10/3rd id of 2–3332 (ids 2–1001 there have twice the connections, and the
 * same case would not be the same work). At or below 300k, num = den and the ids are contiguous.
 */
export interface Rotation {
  first: number;
  count: number;
  num: number;
  den: number;
}

/** The rotation of `count` members in a community of `members` (the admin left out). */
export function rotationOf(members: number, count: number): Rotation {
  return { first: 2, count, num: Math.max(members, REFERENCE_MEMBERS), den: REFERENCE_MEMBERS };
}

/** The rotation's ids, in draw order. */
export function rotationIds({ first, count, num, den }: Rotation): number[] {
  return Array.from({ length: count }, (_, k) => first + Math.floor((k * num) / den));
}

/** A small pool for the bench's own reads (two connections: one may be busy probing CPU). */
export function openDatabase(url: string): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) });
}

/** Creates the database named in the URL when it does not exist (through the `postgres` database). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      log(`creating database ${name}`);
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Migrates with the built CLI, seeds when no member exists yet (the CLI's own seed, so the rows are
 * the server's), and picks what the cases need. Needs dist/ built.
 */
export async function prepareDataset(
  db: Kysely<DB>,
  options: {
    databaseUrl: string;
    jwtSecret: string;
    rotation: number;
    seed: { users: string; celebrityRequests: string; celebrityFollowers: string | undefined; seed: string };
  },
): Promise<Dataset> {
  // The CLI is given the URL: a paired run prepares two databases from one environment.
  const cli = { DATABASE_URL: options.databaseUrl, JWT_SECRET: options.jwtSecret };
  run(process.execPath, ['dist/cli/index.js', 'migrate'], cli);

  const { rows: sizeRows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE id > 1`.execute(db);
  let seeded: unknown = null;
  const members = sizeRows[0]!.n;
  if (members > 0 && members !== Number(options.seed.users)) {
    // Per-request costs are compared between sizes: a run must never measure another size than it names.
    throw new Error(
      `the database holds ${members} members, not ${options.seed.users}: give each dataset size a database of its own ` +
        '(e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/kith_bench_1m npm run bench -- --dataset 1m)',
    );
  }
  if (members === 0) {
    log(`seeding ${options.seed.users} users, ${options.seed.celebrityRequests} requests to the celebrity`);
    const out = run(
      process.execPath,
      [
        'dist/cli/index.js',
        'seed',
        '--users',
        options.seed.users,
        '--celebrity-requests',
        options.seed.celebrityRequests,
        ...(options.seed.celebrityFollowers ? ['--celebrity-followers', options.seed.celebrityFollowers] : []),
        '--seed',
        options.seed.seed,
      ],
      cli,
    );
    seeded = JSON.parse(out);
  }
  const followsAdded = await addFollowsIfNone(db, options.databaseUrl, options.seed);

  // The dataset as it is now: case 7 undoes its writes, but runs before it did left connections behind.
  const { rows: stats } = await sql<DatasetStats>`
    SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM connections)::int AS connections,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NULL)::int AS pending,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NOT NULL)::int AS rejected,
           (SELECT count(*) FROM follows)::int AS follows`.execute(db);
  const { rows: celebRows } = await sql<{ id: number; pending: number }>`
    SELECT id, requests_received_count AS pending FROM users ORDER BY requests_received_count DESC, id LIMIT 1`.execute(
    db,
  );
  const celebrity = celebRows[0]!;
  const { rows: followedRows } = await sql<{ id: number; followers: number }>`
    SELECT id, followers_count AS followers FROM users ORDER BY followers_count DESC, id LIMIT 1`.execute(db);
  const { rows: hubRows } = await sql<{ id: number; connections: number }>`
    SELECT id, connections_count AS connections FROM users ORDER BY connections_count DESC, id LIMIT 1`.execute(db);
  const { rows: adminRows } = await sql<{ id: number }>`
    SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id LIMIT 1`.execute(db);
  if (!adminRows[0]) throw new Error('no active admin to switch the community to follow mode');

  const rotation = rotationOf(stats[0]!.users - 1, options.rotation);
  const typicalIds = rotationIds(rotation).filter((id) => id !== celebrity.id);
  const { rows: fill } = await sql<{ full: number; avg: number; medianConnections: number }>`
    SELECT count(*) FILTER (WHERE requests_received_count >= 20)::int AS full,
           avg(least(requests_received_count, 20))::float8 AS avg,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY connections_count)::int AS "medianConnections"
    FROM users WHERE id = ANY(${typicalIds})`.execute(db);

  // Case 5: each viewer looks at the connections of their best-connected friend (mutual ones first).
  const { rows: friendPairs } = await sql<{ viewer: number; target: number }>`
    SELECT v.id AS viewer, f.friend_id AS target FROM users v
    CROSS JOIN LATERAL (SELECT c.friend_id FROM connections c JOIN users u ON u.id = c.friend_id
                        WHERE c.user_id = v.id ORDER BY u.connections_count DESC LIMIT 1) f
    WHERE v.id = ANY(${typicalIds})`.execute(db);

  return {
    stats: stats[0]!,
    celebrity,
    followed: followedRows[0]!,
    hub: hubRows[0]!,
    adminId: adminRows[0].id,
    seeded,
    followsAdded,
    typicalIds,
    rotation,
    fill: fill[0]!,
    friendPairs,
    freshPairs: await freshPairs(db, stats[0]!.users, celebrity.id),
  };
}

/**
 * A dataset seeded before follow mode has no follows: adds the seed's own (the seed module's
 * `seedFollows`, the same rows a fresh seed makes), in one transaction, checked. The members are
 * the contiguous ids after the admin; the last one is the celebrity. It runs on a connection
 * opened as kith opens its own (`src/db/database.ts`): the stored JSON it renders needs kith's
 * type parsers (a plain pg pool reads a date as a Date, and the JSON would show a timestamp).
 */
async function addFollowsIfNone(
  db: Kysely<DB>,
  databaseUrl: string,
  seed: { celebrityFollowers: string | undefined; seed: string },
): Promise<unknown> {
  const { rows } = await sql<{ found: boolean }>`SELECT EXISTS (SELECT 1 FROM follows) AS found`.execute(db);
  if (rows[0]!.found) return null;
  const { rows: range } = await sql<{ first: number; last: number }>`
    SELECT min(id) AS first, max(id) AS last FROM users WHERE id > 1`.execute(db);
  const { first, last } = range[0]!;
  log(`adding follows to users ${first}..${last} (the dataset has none)`);
  const kith = await openKithDatabase({ databaseUrl, poolSize: 1 });
  const result = await seedFollows(kith.db, {
    firstUserId: first,
    lastUserId: last,
    ...(seed.celebrityFollowers ? { celebrityFollowers: Number(seed.celebrityFollowers) } : {}),
    seed: Number(seed.seed),
    log: (message) => log(`follows: ${message}`),
  }).finally(() => kith.close());
  if (Object.values(result.check).some((wrong) => wrong > 0)) {
    throw new Error(`the added follows failed their check: ${JSON.stringify(result.check)}`);
  }
  log(
    `added ${result.follows} follows in ${result.seconds} s; celebrity ${result.celebrity.id} has ${result.celebrity.followers}`,
  );
  return result;
}

/** Up to 20,001 pseudo-random pairs of members with no connection and no request between them, each pair once. */
async function freshPairs(
  db: Kysely<DB>,
  users: number,
  celebrityId: number,
): Promise<Array<{ a: number; b: number }>> {
  const { rows } = await sql<{ a: number; b: number }>`
    SELECT a, b FROM (
      SELECT 2 + (hashint4(g) & 2147483647) % ${users - 2}::int AS a,
             2 + (hashint4(g + 7777777) & 2147483647) % ${users - 2}::int AS b
      FROM generate_series(${Date.now() % 1_000_000}::int, ${(Date.now() % 1_000_000) + 20_000}::int) g
    ) x
    WHERE a <> b AND a <> ${celebrityId} AND b <> ${celebrityId}
      AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.user_id = a AND c.friend_id = b)
      AND NOT EXISTS (SELECT 1 FROM connection_requests r
                      WHERE least(r.from_user_id, r.to_user_id) = least(a, b)
                        AND greatest(r.from_user_id, r.to_user_id) = greatest(a, b))`.execute(db);
  const seen = new Set<string>();
  return rows.filter(({ a, b }) => {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
