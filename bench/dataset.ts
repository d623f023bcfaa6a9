/**
 * The community the bench runs against: the database is created if missing, migrated, seeded when
 * it holds no member yet, and read for the members and pairs each case needs.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DB } from '../src/db/schema.js';
import { log, run } from './shell.js';

export interface DatasetStats {
  users: number;
  connections: number;
  pending: number;
  rejected: number;
}

export interface Dataset {
  stats: DatasetStats;
  /** The member with the most pending requests. */
  celebrity: { id: number; pending: number };
  /** What `kith seed` printed, when this run seeded; null when the data was there already. */
  seeded: unknown;
  /** Case 2's members: a contiguous range of ids, so pgbench can pick the same ones (\set uid random(lo, hi)). */
  typicalIds: number[];
  /** How full case 2's pages are. */
  fill: { full: number; avg: number };
  /** Case 5: each viewer and the friend whose connections they look at. */
  friendPairs: Array<{ viewer: number; target: number }>;
  /** Case 7: pairs with no relation yet, each used once. */
  freshPairs: Array<{ a: number; b: number }>;
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
  options: { jwtSecret: string; rotation: number; seed: { users: string; celebrityRequests: string; seed: string } },
): Promise<Dataset> {
  run(process.execPath, ['dist/cli/index.js', 'migrate'], { JWT_SECRET: options.jwtSecret });

  const { rows: sizeRows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE id > 1`.execute(db);
  let seeded: unknown = null;
  if (sizeRows[0]!.n === 0) {
    log(`seeding ${options.seed.users} users, ${options.seed.celebrityRequests} requests to the celebrity`);
    const out = run(process.execPath, [
      'dist/cli/index.js',
      'seed',
      '--users',
      options.seed.users,
      '--celebrity-requests',
      options.seed.celebrityRequests,
      '--seed',
      options.seed.seed,
    ]);
    seeded = JSON.parse(out);
  }

  // The dataset as it is now: case 7 undoes its writes, but runs before it did left connections behind.
  const { rows: stats } = await sql<DatasetStats>`
    SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM connections)::int AS connections,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NULL)::int AS pending,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NOT NULL)::int AS rejected`.execute(db);
  const { rows: celebRows } = await sql<{ id: number; pending: number }>`
    SELECT id, requests_received_count AS pending FROM users ORDER BY requests_received_count DESC, id LIMIT 1`.execute(
    db,
  );
  const celebrity = celebRows[0]!;

  const typicalIds = Array.from({ length: options.rotation }, (_, i) => 2 + i).filter((id) => id !== celebrity.id);
  const { rows: fill } = await sql<{ full: number; avg: number }>`
    SELECT count(*) FILTER (WHERE requests_received_count >= 20)::int AS full,
           avg(least(requests_received_count, 20))::float8 AS avg
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
    seeded,
    typicalIds,
    fill: fill[0]!,
    friendPairs,
    freshPairs: await freshPairs(db, stats[0]!.users, celebrity.id),
  };
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
