/**
 * `npm run bench:replicas`: where a page's PostgreSQL CPU goes with DATABASE_READ_URL. On a private
 * primary and a `pg_basebackup -R` standby of it (127.0.0.1, their own ports; nothing shared is
 * touched), seeded with `kith seed --users N`, it drives the received-requests list (members 2–1001
 * in rotation, limit 20: the bench's case 2) against kith from source twice — without
 * DATABASE_READ_URL, then with it — and reports the CPU of each cluster's processes per page.
 * `--users N` (default 20000), `--seconds S` (default 10).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { signAccessToken } from '../src/services/tokens.js';
import { PrivateCluster, postgresBinaries } from '../test/helpers/private-cluster.js';
import { freePort } from '../test/helpers/server-process.js';
import { cpuOf, processTree } from './cpu.js';
import { log, root, run } from './shell.js';

const argument = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const users = argument('users', 20_000);
const seconds = argument('seconds', 10);
const SECRET = 'bench-replicas-secret-that-is-long-enough-0123456789';

/** CPU (ms) used so far by a cluster: its postmaster and every process under it. */
function clusterCpu(cluster: PrivateCluster): number {
  const postmaster = Number(readFileSync(join(cluster.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return processTree(postmaster).reduce((sum, pid) => sum + cpuOf(pid), 0);
}

async function startKith(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env, JWT_SECRET: SECRET, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_POOL_SIZE: '2' },
  });
  for (let i = 0; i < 150; i++) {
    await new Promise((r) => setTimeout(r, 200));
    if (
      await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
  }
  child.kill();
  throw new Error('kith did not start');
}

async function stopKith(child: ChildProcess) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function load(base: string, tokens: string[], duration: number): Promise<autocannon.Result> {
  let next = 0;
  const requests: autocannon.Request[] = [
    {
      method: 'GET',
      path: '/api/v2/user/connection/requests/?limit=20',
      setupRequest: (request) => {
        const token = tokens[next++ % tokens.length];
        return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
      },
    },
  ];
  return new Promise((resolve, reject) => {
    autocannon({ url: base, connections: 10, duration, requests, timeout: 10 }, (error: unknown, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

async function readsByTarget(base: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('kith_db_reads_total{') || l.startsWith('kith_db_replica_fallbacks_total{'))
    .join(', ');
}

async function main() {
  const bin = postgresBinaries();
  if (!bin) throw new Error('needs the PostgreSQL server binaries in /usr/lib/postgresql/*/bin');
  const primary = await PrivateCluster.create(bin);
  let replica: PrivateCluster | undefined;
  try {
    log(`seeding ${users} members on a private primary (port ${primary.port})`);
    const env = { DATABASE_URL: primary.url, JWT_SECRET: SECRET };
    run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'migrate'], env);
    run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'seed', '--users', String(users), '--quiet'], env);
    replica = await PrivateCluster.replicaOf(primary);
    log(`replica on port ${replica.port}`);
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => signAccessToken(SECRET, i + 2, 3600)));

    const rows: string[] = [];
    for (const reads of [false, true]) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const kith = await startKith(
        { DATABASE_URL: primary.url, ...(reads ? { DATABASE_READ_URL: replica.url } : {}) },
        port,
      );
      try {
        await load(base, tokens, 3);
        const before = { primary: clusterCpu(primary), replica: clusterCpu(replica) };
        const result = await load(base, tokens, seconds);
        const after = { primary: clusterCpu(primary), replica: clusterCpu(replica) };
        const pages = result.requests.total;
        const per = (ms: number) => Math.round((ms * 1000) / Math.max(1, pages));
        const bad = result.errors + result.non2xx;
        rows.push(
          `| ${reads ? 'with DATABASE_READ_URL' : 'primary only'} | ${Math.round(result.requests.average)} | ${result.latency.p99} | ${bad} | ${per(after.primary - before.primary)} | ${per(after.replica - before.replica)} |`,
        );
        if (reads) log(`reads: ${await readsByTarget(base)}`);
      } finally {
        await stopKith(kith);
      }
    }
    const client = new pg.Client(primary.url);
    await client.connect();
    const { rows: count } = await client.query('SELECT count(*)::int AS n FROM users');
    await client.end();
    console.log(`\n${count[0].n} members, ${seconds} s per run, 10 connections, DATABASE_POOL_SIZE=2\n`);
    console.log('| run | pages/s | p99 ms | errors + non-2xx | primary CPU µs/page | replica CPU µs/page |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const row of rows) console.log(row);
  } finally {
    await replica?.destroy();
    await primary.destroy();
  }
}

await main();
