/**
 * The bench's command line and the settings derived from it: the only reader of argv and of
 * DATABASE_URL in bench/.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

/** The named dataset sizes: `--dataset 1m` runs the same cases on a community of a million members. */
export const DATASETS = { '300k': 300_000, '1m': 1_000_000 } as const;
export type DatasetName = keyof typeof DATASETS;

export interface Settings {
  databaseUrl: string;
  /** The dataset's name (`--dataset`), or null when `--users` set a size of its own. */
  dataset: DatasetName | null;
  /** Seed sizes, used only when the database holds no community yet. */
  seed: { users: string; celebrityRequests: string; celebrityFollowers: string | undefined; seed: string };
  durationSeconds: number;
  warmupSeconds: number;
  /** autocannon's concurrent connections (pgbench uses as many, up to 10 per worker). */
  connections: number;
  workers: number;
  pool: number;
  /** How many members case 2 (and 5, 6) rotate through. */
  rotation: number;
  /** How many times each case runs (`--rounds`): its result is the median round's. */
  rounds: number;
  /** The case ids to run; null runs them all. */
  cases: Set<string> | null;
  out: string;
  /** A results file's name (`--compare`): the scale targets compare this run's CPU with its. */
  compare: string | null;
  /**
   * `--paired URL`: a second database, of another size (`--paired-dataset`, default 300k), whose
   * server runs each case right after or before this one's (alternating), so the scale targets
   * compare measurements seconds apart, not minutes; its report is `<out>-paired`.
   */
  paired: { databaseUrl: string; dataset: DatasetName } | null;
  skipBuild: boolean;
}

const USAGE = `Usage: DATABASE_URL=postgres://… npm run bench -- [flags]

Seeds the database when it holds no community, starts the built server, drives each case with
autocannon and prints a table (bench/results/<out>.md and .json). See docs/performance.md.

  --cases a,b,…          the case ids to run (default: all; e.g. 2,2-304,5,7,search-prefix)
  --dataset 300k|1m      the community's size (default 300k); a database holding another is refused
  --users N              a size of its own instead of --dataset
  --celebrity-requests M --celebrity-followers F --seed S   seed sizes (first run only)
  --duration S           seconds per case (default 10)     --warmup S  (default 3)
  --connections C        autocannon's connections (default 10)
  --workers N            KITH_WORKERS (default 1)           --pool N  DATABASE_POOL_SIZE
  --out NAME             results file name (default latest)
  --compare NAME         also hold each case's CPU to within 20% of bench/results/NAME.json
                         (e.g. a 1m run against the 300k one: the scale targets)
  --paired URL           run every case on the database at URL too, right after or before
                         this one's (alternating), and hold each case's CPU to within 20% of
                         the paired run's: the scale targets without the drift between runs
  --paired-dataset NAME  the paired database's size (default 300k)
  --rounds N             run each case N times (paired: alternating) and report the median
                         round by CPU per request (default 1)
  --skip-build           use dist/ as it is
  --help                 this text
`;

const parseFlags = (args: string[]) =>
  parseArgs({
    args,
    options: {
      dataset: { type: 'string' },
      users: { type: 'string' },
      'celebrity-requests': { type: 'string', default: '200000' },
      // Default: kith seed's own, min(users - 1, 150000).
      'celebrity-followers': { type: 'string' },
      seed: { type: 'string', default: '1' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '10' },
      workers: { type: 'string', default: '1' },
      pool: { type: 'string' },
      cases: { type: 'string' },
      out: { type: 'string', default: 'latest' },
      compare: { type: 'string' },
      paired: { type: 'string' },
      'paired-dataset': { type: 'string', default: '300k' },
      rounds: { type: 'string', default: '1' },
      'skip-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });

/** Parses `npm run bench -- …`; exits with status 2 when DATABASE_URL is missing or a flag is wrong. */
export function readSettings(args: string[] = process.argv.slice(2)): Settings {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(args);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const flags = parsed.values;

  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write(
      'bench: DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/kith_bench npm run bench\n',
    );
    process.exit(2);
  }

  if (flags.dataset !== undefined && !(flags.dataset in DATASETS)) {
    process.stderr.write(`bench: --dataset is one of ${Object.keys(DATASETS).join(', ')}\n`);
    process.exit(2);
  }
  if (flags.dataset !== undefined && flags.users !== undefined) {
    process.stderr.write('bench: --dataset names a size; give it or --users, not both\n');
    process.exit(2);
  }
  const dataset = flags.users !== undefined ? null : ((flags.dataset ?? '300k') as DatasetName);
  if (flags.paired !== undefined && flags.compare !== undefined) {
    process.stderr.write('bench: --paired and --compare each name what the scale targets compare with; give one\n');
    process.exit(2);
  }
  if (!(flags['paired-dataset'] in DATASETS)) {
    process.stderr.write(`bench: --paired-dataset is one of ${Object.keys(DATASETS).join(', ')}\n`);
    process.exit(2);
  }
  const rounds = Number(flags.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`bench: --rounds is a positive integer, not ${flags.rounds}\n`);
    process.exit(2);
  }
  if (flags.paired !== undefined && flags.paired === databaseUrl) {
    process.stderr.write('bench: --paired names DATABASE_URL itself; give the other size its own database\n');
    process.exit(2);
  }

  const workers = Number(flags.workers);
  return {
    databaseUrl,
    dataset,
    seed: {
      users: flags.users ?? String(DATASETS[dataset ?? '300k']),
      celebrityRequests: flags['celebrity-requests'],
      celebrityFollowers: flags['celebrity-followers'],
      seed: flags.seed,
    },
    durationSeconds: Number(flags.duration),
    warmupSeconds: Number(flags.warmup),
    connections: Number(flags.connections),
    workers,
    // PostgreSQL runs on this machine: more busy connections than cores only add context switches
    // (case 2 here: PostgreSQL's CPU per request 623 µs with 10, 515–526 µs with 2). `--pool N` overrides.
    pool: Number(flags.pool ?? Math.max(1, Math.floor(availableParallelism() / workers))),
    rotation: 1000,
    rounds,
    cases: flags.cases ? new Set(flags.cases.split(',')) : null,
    out: flags.out,
    compare: flags.compare ?? null,
    paired: flags.paired ? { databaseUrl: flags.paired, dataset: flags['paired-dataset'] as DatasetName } : null,
    skipBuild: flags['skip-build'],
  };
}
