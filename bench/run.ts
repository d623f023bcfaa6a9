/**
 * kith's benchmark: `npm run bench` (needs DATABASE_URL; see docs/performance.md).
 *
 * Seeds the database when it holds no community yet, starts the built server in production mode as
 * a child process, drives it with autocannon over loopback for each case, runs pgbench on the SQL
 * that case 2 issues, samples the server's memory throughout, and writes bench/results/latest.{json,md}.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { requestPageStatement } from '../src/db/repositories/connections.js';
import type { DB } from '../src/db/schema.js';
import { signAccessToken } from '../src/services/tokens.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values: flags } = parseArgs({
  options: {
    users: { type: 'string', default: '300000' },
    'celebrity-requests': { type: 'string', default: '200000' },
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
    pool: { type: 'string' },
    cases: { type: 'string' },
    out: { type: 'string', default: 'latest' },
    'skip-build': { type: 'boolean', default: false },
  },
});

const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const CONNECTIONS = Number(flags.connections);
const WORKERS = Number(flags.workers);
// PostgreSQL runs on this machine: more busy connections than cores only add context switches
// (case 2 here: PostgreSQL's CPU per request 623 µs with 10, 515–526 µs with 2). `--pool N` overrides.
const POOL = Number(flags.pool ?? Math.max(1, Math.floor(availableParallelism() / WORKERS)));
const ROTATION = 1000;
const PORT = 18000 + Math.floor(Math.random() * 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const JWT_SECRET = randomBytes(32).toString('base64url');

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write(
    'bench: DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/kith_bench npm run bench\n',
  );
  process.exit(2);
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function ensureDatabase(url: string) {
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

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status})`);
  return result.stdout.toString();
}

// ---------------------------------------------------------------- server and memory

interface Server {
  pid: number;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  // KITH_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the server under the cases.
  const nodeArgs = (process.env.KITH_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      JWT_SECRET,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KITH_WORKERS: String(WORKERS),
      DATABASE_POOL_SIZE: String(POOL),
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      const response = await fetch(`${BASE}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (i === 99) throw new Error('the server did not start');
  }
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** RSS of the server and its workers (KiB), from /proc. */
function rssOf(pid: number): number {
  let total = 0;
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  for (const p of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // gone
    }
  }
  return total;
}

// ---------------------------------------------------------------- load cases

interface CaseResult {
  id: string;
  title: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  non2xx: number;
  ratio?: number;
  /** CPU microseconds per request: server processes, PostgreSQL backends, autocannon. */
  cpuUs?: { server: number; postgres: number; client: number };
  note?: string;
}

type Requests = autocannon.Request[];

function cannon(requests: Requests, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: BASE, connections: CONNECTIONS, duration: seconds, requests, timeout: 10 },
      (error: unknown, result: autocannon.Result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** CPU time (ms) a process has used, from /proc (user + system). */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

/**
 * The `next` link of a page, read from the head of the body: kith writes count, next and previous
 * before results. Parsing the whole 28 KB page per response cost the load generator more CPU than
 * the rest of its work, on the cores the server and PostgreSQL use.
 */
function nextLinkOf(body: string): string | null {
  const head = /^\{"count":\d+,"next":("(?:[^"\\]|\\.)*"|null),/.exec(body);
  return head ? (JSON.parse(head[1]!) as string | null) : (JSON.parse(body).next as string | null);
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** The server's processes (a cluster primary and its workers). */
function serverPids(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

let cpuProbe: { server: () => number[]; backends: () => Promise<number[]> } | null = null;

/** CPU used so far, per process: the server's, PostgreSQL's (its client backends for this database) and the load generator's. */
async function cpuSnapshot() {
  if (!cpuProbe) return null;
  const server = new Map(cpuProbe.server().map((pid) => [pid, cpuOf(pid)]));
  const backends = new Map((await cpuProbe.backends()).map((pid) => [pid, cpuOf(pid)]));
  const own = process.cpuUsage();
  return { server, backends, client: (own.user + own.system) / 1000 };
}

/** CPU (ms) used between two snapshots by the processes alive at the second (new ones count from 0). */
function used(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

async function loadCase(id: string, title: string, make: () => Requests, note?: string): Promise<CaseResult> {
  log(`case ${id}: ${title}`);
  if (WARMUP > 0) await cannon(make(), WARMUP);
  const before = await cpuSnapshot();
  const r = await cannon(make(), DURATION);
  const after = await cpuSnapshot();
  const per = (a: number, b: number) => Math.round(((b - a) * 1000) / Math.max(1, r.requests.total));
  return {
    id,
    title,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    ...(before && after
      ? {
          cpuUs: {
            server: per(0, used(before.server, after.server)),
            postgres: per(0, used(before.backends, after.backends)),
            client: per(before.client, after.client),
          },
        }
      : {}),
    ...(note ? { note } : {}),
  };
}

/** Cycles through a list, one item per request, across all connections. */
function rotate<T>(items: T[]) {
  let i = 0;
  return () => items[i++ % items.length]!;
}

// ---------------------------------------------------------------- pgbench floor

interface Floor {
  tps: number;
  cpuUsPerTransaction: number | null;
  /** pgbench's own CPU per transaction (the client side, as autocannon's column is for HTTP). */
  clientCpuUsPerTransaction: number | null;
  script: string;
}

async function pgbenchFloor(userIds: number[]): Promise<Floor> {
  // The very statement case 2 issues (it loads the viewer too: one statement per request).
  const logging = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }),
  });
  const statement = requestPageStatement(logging, { list: 'pending', limit: 20, offset: 0 });
  await logging.destroy();
  // Every value a pgbench variable, so pgbench's prepared statement has the server's parameters.
  const values: Record<string, string> = { viewer: ':uid', limit: ':limit', offset: ':offset' };

  const lo = Math.min(...userIds);
  const hi = Math.max(...userIds);
  const lines = [`\\set uid random(${lo}, ${hi})`, '\\set limit 20', '\\set offset 0'];
  const text = statement.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = values[statement.slots[Number(n) - 1]!];
    if (value === undefined) throw new Error(`pgbench: cannot bind parameter ${n}`);
    return value;
  });
  lines.push(`${text.replace(/\s+/g, ' ').trim()};`);
  const script = lines.join('\n');
  const file = join(tmpdir(), `kith-bench-${process.pid}.sql`);
  writeFileSync(file, `${script}\n`);
  const url = new URL(databaseUrl!);
  const args = (seconds: number) => [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(Math.min(CONNECTIONS, 10 * WORKERS)),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-f',
    file,
    '-h',
    url.hostname,
    '-p',
    url.port || '5432',
    '-U',
    decodeURIComponent(url.username || 'postgres'),
    decodeURIComponent(url.pathname.slice(1)),
  ];
  const env = { PGPASSWORD: decodeURIComponent(url.password) };
  log(`pgbench ${args(DURATION).join(' ')}`);
  if (WARMUP > 0) run('pgbench', args(WARMUP), env);
  const { out, backendCpuMs, clientCpuMs } = await pgbenchWithCpu(args(DURATION), env);
  const match = /tps = ([\d.]+)/.exec(out);
  if (!match) throw new Error(`pgbench printed no tps:\n${out}`);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (failed && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} failed transactions`);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    tps: Math.round(Number(match[1])),
    cpuUsPerTransaction: transactions ? Math.round((backendCpuMs * 1000) / transactions) : null,
    clientCpuUsPerTransaction: transactions ? Math.round((clientCpuMs * 1000) / transactions) : null,
    script,
  };
}

/** Runs pgbench while reading its backends' CPU time (the last reading before they exit). */
async function pgbenchWithCpu(args: string[], env: NodeJS.ProcessEnv) {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const child = spawn('pgbench', args, { cwd: root, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => process.stderr.write(chunk));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const last = new Map<number, number>();
  let client = 0;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = current_database()",
    );
    for (const { pid } of rows) {
      const cpu = cpuOf(pid);
      if (cpu > 0) last.set(pid, cpu);
    }
    const own = child.pid === undefined ? 0 : cpuOf(child.pid);
    if (own > 0) client = own;
    await new Promise((r) => setTimeout(r, 200));
  }
  await admin.end();
  if ((await exited) !== 0) throw new Error(`pgbench failed:\n${out}`);
  return { out, backendCpuMs: [...last.values()].reduce((a, b) => a + b, 0), clientCpuMs: client };
}

// ---------------------------------------------------------------- main

async function main() {
  await ensureDatabase(databaseUrl!);
  if (!flags['skip-build']) {
    log('building (npm run build)');
    run('npm', ['run', '--silent', 'build']);
  }
  run(process.execPath, ['dist/cli/index.js', 'migrate'], { JWT_SECRET });

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const { rows: sizeRows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE id > 1`.execute(db);
  let seeded: unknown = null;
  if (sizeRows[0]!.n === 0) {
    log(`seeding ${flags.users} users, ${flags['celebrity-requests']} requests to the celebrity`);
    const out = run(process.execPath, [
      'dist/cli/index.js',
      'seed',
      '--users',
      flags.users!,
      '--celebrity-requests',
      flags['celebrity-requests']!,
      '--seed',
      flags.seed!,
    ]);
    seeded = JSON.parse(out);
  }

  // The dataset as it is now (earlier runs of case 7 added connections).
  const { rows: stats } = await sql<{ users: number; connections: number; pending: number; rejected: number }>`
    SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM connections)::int AS connections,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NULL)::int AS pending,
           (SELECT count(*) FROM connection_requests WHERE rejected IS NOT NULL)::int AS rejected`.execute(db);
  const { rows: celebRows } = await sql<{ id: number; pending: number }>`
    SELECT id, requests_received_count AS pending FROM users ORDER BY requests_received_count DESC, id LIMIT 1`.execute(
    db,
  );
  const celebrity = celebRows[0]!;

  // Case 2: a contiguous range of ids, so pgbench can pick the same users (\set uid random(lo, hi)).
  const typicalIds = Array.from({ length: ROTATION }, (_, i) => 2 + i).filter((id) => id !== celebrity.id);
  const { rows: fill } = await sql<{ full: number; avg: number }>`
    SELECT count(*) FILTER (WHERE requests_received_count >= 20)::int AS full,
           avg(least(requests_received_count, 20))::float8 AS avg
    FROM users WHERE id = ANY(${typicalIds})`.execute(db);

  // Case 5: each viewer looks at the connections of their best-connected friend (mutual ones first).
  const { rows: pairs5 } = await sql<{ viewer: number; target: number }>`
    SELECT v.id AS viewer, f.friend_id AS target FROM users v
    CROSS JOIN LATERAL (SELECT c.friend_id FROM connections c JOIN users u ON u.id = c.friend_id
                        WHERE c.user_id = v.id ORDER BY u.connections_count DESC LIMIT 1) f
    WHERE v.id = ANY(${typicalIds})`.execute(db);

  // Case 7: pairs with no relation yet, each used once: A requests B, B accepts.
  const { rows: pairs7 } = await sql<{ a: number; b: number }>`
    SELECT a, b FROM (
      SELECT 2 + (hashint4(g) & 2147483647) % ${stats[0]!.users - 2}::int AS a,
             2 + (hashint4(g + 7777777) & 2147483647) % ${stats[0]!.users - 2}::int AS b
      FROM generate_series(${Date.now() % 1_000_000}::int, ${(Date.now() % 1_000_000) + 20_000}::int) g
    ) x
    WHERE a <> b AND a <> ${celebrity.id} AND b <> ${celebrity.id}
      AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.user_id = a AND c.friend_id = b)
      AND NOT EXISTS (SELECT 1 FROM connection_requests r
                      WHERE least(r.from_user_id, r.to_user_id) = least(a, b)
                        AND greatest(r.from_user_id, r.to_user_id) = greatest(a, b))`.execute(db);
  const seen = new Set<string>();
  const freshPairs = pairs7.filter(({ a, b }) => {
    const key = a < b ? `${a}:${b}` : `${b}:${a}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });

  log(`minting tokens (${typicalIds.length + 2 * freshPairs.length})`);
  const tokens = new Map<number, string>();
  const token = async (id: number) => {
    let t = tokens.get(id);
    if (!t) {
      t = `Bearer ${await signAccessToken(JWT_SECRET, id, 6 * 3600)}`;
      tokens.set(id, t);
    }
    return t;
  };
  for (const id of [...typicalIds, celebrity.id, ...pairs5.map((p) => p.viewer)]) await token(id);
  for (const { a, b } of freshPairs) {
    await token(a);
    await token(b);
  }

  const server = await startServer();
  cpuProbe = {
    server: () => serverPids(server.pid),
    backends: async () => {
      const { rows } = await sql<{ pid: number }>`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'pgbench'
          AND backend_type = 'client backend'`.execute(db);
      return rows.map((r) => r.pid);
    },
  };
  const samples: Array<{ t: number; rss: number }> = [];
  const t0 = Date.now();
  const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: rssOf(server.pid) }), 500);

  const selected = flags.cases ? new Set(flags.cases.split(',')) : null;
  const want = (id: string) => !selected || selected.has(id);
  const results: CaseResult[] = [];
  const get = (path: string, auth: string): autocannon.Request => ({
    method: 'GET',
    path,
    headers: { authorization: auth },
  });

  try {
    if (want('1'))
      results.push(await loadCase('1', 'floor: GET /healthz', () => [{ method: 'GET', path: '/healthz' }]));

    if (want('2')) {
      results.push(
        await loadCase(
          '2',
          `received requests, ${typicalIds.length} users in rotation, limit 20`,
          () => {
            const next = rotate(typicalIds);
            return [
              {
                setupRequest: (req) => ({
                  ...req,
                  ...get('/api/v2/user/connection/requests/?limit=20', tokens.get(next())!),
                }),
              },
            ];
          },
          `${fill[0]!.full} of ${typicalIds.length} users have a full page; ${fill[0]!.avg.toFixed(1)} results per page on average`,
        ),
      );
    }

    const celebToken = tokens.get(celebrity.id)!;
    if (want('3')) {
      results.push(
        await loadCase('3', `received requests, celebrity (${celebrity.pending}), offset 0`, () => [
          get('/api/v2/user/connection/requests/?limit=20', celebToken),
        ]),
      );
    }

    const deep = Math.floor((celebrity.pending * 0.9) / 20) * 20;
    if (want('4')) {
      results.push(
        await loadCase('4', `received requests, celebrity, offset ${deep} (90%)`, () => [
          get(`/api/v2/user/connection/requests/?limit=20&offset=${deep}`, celebToken),
        ]),
      );
    }

    if (want('4b')) {
      let pages = 0;
      let cursorPages = 0;
      let deepest = 0;
      results.push(
        await loadCase(
          '4b',
          'received requests, celebrity, following `next` links',
          () => {
            // C walkers: walker k starts at k/C of the list, then follows `next` to the end and
            // starts over from the first page: every depth is visited, through cursors. autocannon
            // clears a connection's context after every request of a one-request list, so the
            // walkers live here: a request takes an idle walker and its response puts it back.
            const lastPage = Math.floor((celebrity.pending - 1) / 20) * 20;
            const idle: Array<{ next: string }> = [];
            let started = 0;
            const newWalker = () => {
              const start = Math.floor((started++ * celebrity.pending) / CONNECTIONS / 20) * 20;
              return {
                next: `/api/v2/user/connection/requests/?limit=20${start ? `&offset=${Math.min(start, lastPage)}` : ''}`,
              };
            };
            return [
              {
                setupRequest: (req, context: any) => {
                  const walker = idle.pop() ?? newWalker();
                  context.walker = walker;
                  return { ...req, ...get(walker.next, celebToken) };
                },
                onResponse: (status, body, context: any) => {
                  const walker = context.walker as { next: string } | undefined;
                  if (!walker) return;
                  idle.push(walker);
                  if (status !== 200) return;
                  const next = nextLinkOf(body);
                  pages += 1;
                  if (next) {
                    const url = new URL(next);
                    if (url.searchParams.has('cursor')) cursorPages += 1;
                    deepest = Math.max(deepest, Number(url.searchParams.get('offset') ?? 0));
                    walker.next = url.pathname + url.search;
                  } else {
                    walker.next = '/api/v2/user/connection/requests/?limit=20';
                  }
                },
              },
            ];
          },
          undefined,
        ),
      );
      results.at(-1)!.note =
        `${pages} pages walked (warm-up included), ${cursorPages} of them reached through a cursor, deepest offset reached ${deepest}`;
    }

    if (want('5')) {
      results.push(
        await loadCase('5', `connections of a friend, mutual ones first, limit 20 (${pairs5.length} viewers)`, () => {
          const next = rotate(pairs5);
          return [
            {
              setupRequest: (req) => {
                const p = next();
                return { ...req, ...get(`/api/v2/user/${p.target}/connections/?limit=20`, tokens.get(p.viewer)!) };
              },
            },
          ];
        }),
      );
    }

    if (want('6')) {
      const bodies = typicalIds.map((id) => ({
        auth: tokens.get(id)!,
        body: JSON.stringify({ users: Array.from({ length: 100 }, (_, i) => Math.max(2, id - 50) + i) }),
      }));
      results.push(
        await loadCase('6', 'POST /api/v2/user/connection/statuses/ with 100 ids', () => {
          const next = rotate(bodies);
          return [
            {
              setupRequest: (req) => {
                const b = next();
                return {
                  ...req,
                  method: 'POST',
                  path: '/api/v2/user/connection/statuses/',
                  headers: { authorization: b.auth, 'content-type': 'application/json' },
                  body: b.body,
                };
              },
            },
          ];
        }),
      );
    }

    if (want('7')) {
      let used = 0;
      results.push(
        await loadCase(
          '7',
          'write mix: A requests B, then B accepts (distinct pairs)',
          () => {
            return [
              {
                setupRequest: (req, context: any) => {
                  const pair = freshPairs[used++ % freshPairs.length]!;
                  context.pair = pair;
                  return {
                    ...req,
                    method: 'POST',
                    path: `/api/v2/user/${pair.b}/connection/request/`,
                    headers: { authorization: tokens.get(pair.a)!, 'content-type': 'application/json' },
                    body: '',
                  };
                },
              },
              {
                setupRequest: (req, context: any) => ({
                  ...req,
                  method: 'POST',
                  path: `/api/v2/user/${context.pair.a}/connection/accept/`,
                  headers: { authorization: tokens.get(context.pair.b)!, 'content-type': 'application/json' },
                  body: '',
                }),
              },
            ];
          },
          undefined,
        ),
      );
      results.at(-1)!.note =
        `${Math.min(used, freshPairs.length)} of ${freshPairs.length} fresh pairs used${used > freshPairs.length ? ' (then reused: idempotent)' : ''}`;
    }
  } finally {
    clearInterval(sampler);
    await server.stop();
  }

  let floor: Floor | null = null;
  if (want('2')) floor = await pgbenchFloor(typicalIds);
  await db.destroy();

  const case1 = results.find((r) => r.id === '1');
  for (const r of results) if (case1) r.ratio = Math.round((r.rps / case1.rps) * 1000) / 1000;

  // Flat: after the first third (start-up, heap growing to its working size), the peak no longer climbs.
  const rss = samples.map((s) => s.rss);
  const third = Math.max(1, Math.floor(rss.length / 3));
  const mib = (kib: number) => Math.round(kib / 1024);
  const memory = {
    seconds: Math.round(samples.at(-1)?.t ?? 0),
    peakMiB: mib(Math.max(...rss)),
    middleThirdPeakMiB: mib(Math.max(...rss.slice(third, 2 * third))),
    lastThirdPeakMiB: mib(Math.max(...rss.slice(-third))),
    flat: false,
  };
  memory.flat = memory.lastThirdPeakMiB <= memory.middleThirdPeakMiB * 1.1 + 16;

  const by = (id: string) => results.find((r) => r.id === id);
  const targets: Array<{ target: string; value: string; met: boolean }> = [];
  const c2 = by('2');
  if (c2 && floor) {
    const v = c2.rps / floor.tps;
    targets.push({ target: 'case 2 ≥ 60% of the pgbench floor', value: `${(v * 100).toFixed(0)}%`, met: v >= 0.6 });
  }
  if (c2 && case1) {
    const v = c2.rps / case1.rps;
    targets.push({ target: 'case 2 ≥ 20% of case 1', value: `${(v * 100).toFixed(0)}%`, met: v >= 0.2 });
  }
  // What this run's own costs allow (see docs/performance.md, "What the machine allows"). Every
  // run saturates the same cores, so throughputs stand in the inverse ratio of the CPU one request
  // (or transaction) costs on them, whoever spends it: case 2 / X = cost(X) / cost(case 2).
  const bounds: string[] = [];
  const cost2 = c2?.cpuUs;
  const cost1 = case1?.cpuUs;
  if (c2 && case1 && floor && cost2?.postgres && cost2.client && cost2.server && cost1?.server && cost1.client) {
    const fixed = cost2.postgres + cost2.client; // what case 2 costs besides the server
    const pgbench = (floor.cpuUsPerTransaction ?? 0) + (floor.clientCpuUsPerTransaction ?? 0);
    const healthz = cost1.server + cost1.client;
    const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
    bounds.push(
      `the database alone (pgbench, no HTTP) reached ${pct(floor.tps / case1.rps)} of case 1`,
      `CPU µs per request: case 1 ${cost1.server} (server) + ${cost1.client} (autocannon); pgbench ${floor.cpuUsPerTransaction} + ${floor.clientCpuUsPerTransaction} (its client); case 2 ${cost2.postgres} (PostgreSQL) + ${cost2.server} (server) + ${cost2.client} (autocannon)`,
      `≥ 60% of pgbench needs the server at ≤ ${Math.round(pgbench / 0.6 - fixed)} µs per case-2 request; a server costing nothing would reach ${pct(pgbench / fixed)} of pgbench`,
      `≥ 20% of case 1 needs the server at ≤ ${Math.round(healthz / 0.2 - fixed)} µs per case-2 request (it spends ${cost1.server} µs on a /healthz); a server costing nothing would reach ${pct(healthz / fixed)} of case 1`,
    );
  }
  const c3 = by('3');
  const c4 = by('4');
  const c4b = by('4b');
  if (c3 && c4b) {
    const v = c4b.p99 / c3.p99;
    targets.push({ target: 'case 4b p99 ≤ 1.5 × case 3 p99', value: `${v.toFixed(2)}×`, met: v <= 1.5 });
  }
  if (c3 && c4) {
    const v = c4.p99 / c3.p99;
    targets.push({ target: 'case 4 p99 ≤ 4 × case 3 p99', value: `${v.toFixed(2)}×`, met: v <= 4 });
  }
  const bad = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
  targets.push({ target: 'zero errors and non-2xx', value: String(bad), met: bad === 0 });
  targets.push({
    target: 'memory flat',
    value: `${memory.middleThirdPeakMiB} → ${memory.lastThirdPeakMiB} MiB`,
    met: memory.flat,
  });

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    settings: {
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      workers: WORKERS,
      pool: POOL,
      rotation: typicalIds.length,
    },
    dataset: { ...stats[0]!, celebrity, seeded },
    results,
    pgbench: floor,
    memory,
    targets,
    bounds,
  };

  const ms = (v: number) => `${v}`;
  const md = [
    `| case | what | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | × case 1 | CPU µs/req: server | PostgreSQL | load generator |`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...results.map(
      (r) =>
        `| ${r.id} | ${r.title} | ${r.rps} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.errors} | ${r.non2xx} | ${r.ratio ?? ''} | ${r.cpuUs?.server ?? ''} | ${r.cpuUs?.postgres ?? ''} | ${r.cpuUs?.client ?? ''} |`,
    ),
    ...(floor
      ? [
          `| 2-db | pgbench, case 2's SQL, same users and concurrency | ${floor.tps} | | | | 0 | | | | ${floor.cpuUsPerTransaction ?? ''} | ${floor.clientCpuUsPerTransaction ?? ''} |`,
        ]
      : []),
    '',
    ...results.filter((r) => r.note).map((r) => `- case ${r.id}: ${r.note}`),
    `- server RSS: peak ${memory.peakMiB} MiB over ${memory.seconds} s; peak in the middle third ${memory.middleThirdPeakMiB} MiB, last third ${memory.lastThirdPeakMiB} MiB (${memory.flat ? 'flat' : 'growing'})`,
    `- dataset: ${stats[0]!.users} users, ${stats[0]!.connections} connection rows, ${stats[0]!.pending} pending and ${stats[0]!.rejected} rejected requests; celebrity ${celebrity.id} with ${celebrity.pending} pending`,
    `- ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per case, KITH_WORKERS=${WORKERS}, DATABASE_POOL_SIZE=${POOL}, ${report.machine.cpus} CPUs, Node ${process.version}`,
    '',
    '| target | measured | met |',
    '|---|---:|:---:|',
    ...targets.map((t) => `| ${t.target} | ${t.value} | ${t.met ? 'yes' : 'NO'} |`),
    '',
    ...bounds.map((b) => `- ${b}`),
    ...(bounds.length ? [''] : []),
  ].join('\n');

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${flags.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, `${flags.out}.md`), md);
  process.stdout.write(`\n${md}`);
}

await main();
