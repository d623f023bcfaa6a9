/**
 * The database floor for case 2: pgbench runs the very statement case 2 issues, with no HTTP, at
 * the same concurrency over the same members, and its backends' CPU is read while it runs.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
// The only bench module that knows where the page statement lives.
import { requestPageStatement } from '../src/db/pages/request-pages.js';
import { cpuOf } from './cpu.js';
import type { Rotation } from './dataset.js';
import { log, root, run } from './shell.js';

export interface Floor {
  tps: number;
  cpuUsPerTransaction: number | null;
  /** pgbench's own CPU per transaction (the client side, as autocannon's column is for HTTP). */
  clientCpuUsPerTransaction: number | null;
  script: string;
}

export interface FloorOptions {
  databaseUrl: string;
  /** Case 2's members: pgbench draws k uniformly and computes the k-th's id as `rotationIds` does. */
  rotation: Rotation;
  connections: number;
  workers: number;
  warmupSeconds: number;
  durationSeconds: number;
}

/**
 * pgbench's draw of one of the rotation's members into `:uid`, as `rotationIds` lists them (pgbench's
 * `/` on integers truncates, as Math.floor does on these non-negative ones).
 */
export function drawLines({ first, count, num, den }: Rotation): string[] {
  return [`\\set k random(0, ${count - 1})`, `\\set uid ${first} + (:k * ${num}) / ${den}`];
}

/** Builds the pgbench script from case 2's statement, runs it (warm-up, then measured), and returns its throughput and CPU. */
export async function pgbenchFloor(options: FloorOptions): Promise<Floor> {
  const { databaseUrl, rotation } = options;
  // The very statement case 2 issues (it loads the viewer too: one statement per request).
  const statement = requestPageStatement({ list: 'pending', limit: 20, offset: 0 });
  // Every value a pgbench variable, so pgbench's prepared statement has the server's parameters.
  const values: Record<string, string> = { viewer: ':uid', limit: ':limit', offset: ':offset' };

  const lines = [...drawLines(rotation), '\\set limit 20', '\\set offset 0'];
  const text = statement.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const value = values[statement.slots[Number(n) - 1]!];
    if (value === undefined) throw new Error(`pgbench: cannot bind parameter ${n}`);
    return value;
  });
  lines.push(`${text.replace(/\s+/g, ' ').trim()};`);
  const script = lines.join('\n');
  const file = join(tmpdir(), `kith-bench-${process.pid}.sql`);
  writeFileSync(file, `${script}\n`);
  const url = new URL(databaseUrl);
  const args = (seconds: number) => [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(Math.min(options.connections, 10 * options.workers)),
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
  log(`pgbench ${args(options.durationSeconds).join(' ')}`);
  if (options.warmupSeconds > 0) run('pgbench', args(options.warmupSeconds), env);
  const { out, backendCpuMs, clientCpuMs } = await pgbenchWithCpu(databaseUrl, args(options.durationSeconds), env);
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
async function pgbenchWithCpu(databaseUrl: string, args: string[], env: NodeJS.ProcessEnv) {
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
