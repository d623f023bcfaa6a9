/** The server under test: built, started as a child process in production mode, and its memory sampled. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { signAccessToken } from '../src/services/tokens.js';
import { rssOf } from './cpu.js';
import { log, root, run } from './shell.js';

/** Builds dist/ (the server and the CLI the dataset is migrated and seeded with). */
export function build(): void {
  log('building (npm run build)');
  run('npm', ['run', '--silent', 'build']);
}

/** Where the server will listen and the secret it signs tokens with: fresh for every run. */
export interface ServerIdentity {
  port: number;
  base: string;
  jwtSecret: string;
}

/** Picks a port (not one of `taken`) and a JWT secret for one of this run's servers. */
export function serverIdentity(taken: number[] = []): ServerIdentity {
  let port: number;
  do port = 18000 + Math.floor(Math.random() * 1000);
  while (taken.includes(port));
  return { port, base: `http://127.0.0.1:${port}`, jwtSecret: randomBytes(32).toString('base64url') };
}

/** Mints a bearer token the server will accept for each member, six hours long (a run never lasts that long). */
export async function mintTokens(identity: ServerIdentity, ids: Iterable<number>): Promise<Map<number, string>> {
  const tokens = new Map<number, string>();
  for (const id of ids) {
    if (!tokens.has(id)) tokens.set(id, `Bearer ${await signAccessToken(identity.jwtSecret, id, 6 * 3600)}`);
  }
  return tokens;
}

export interface Server {
  pid: number;
  stop(): Promise<void>;
}

/** Starts `node dist/main.js` and resolves once /healthz answers. */
export async function startServer(
  identity: ServerIdentity,
  options: { databaseUrl: string; workers: number; pool: number },
): Promise<Server> {
  // KITH_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the server under the cases.
  const nodeArgs = (process.env.KITH_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      JWT_SECRET: identity.jwtSecret,
      PORT: String(identity.port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KITH_WORKERS: String(options.workers),
      DATABASE_POOL_SIZE: String(options.pool),
      // The load comes from one address and a few members, far past any abuse limit: measured without them.
      KITH_RATE_LIMITS: 'false',
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      const response = await fetch(`${identity.base}/healthz`);
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

export interface MemorySample {
  /** Seconds since sampling started. */
  t: number;
  /** RSS of the server and its workers (KiB). */
  rss: number;
}

/** Samples the server's RSS every 0.5 s until `stop()`, which returns the samples. */
export function sampleMemory(pid: number): { stop(): MemorySample[] } {
  const samples: MemorySample[] = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: rssOf(pid) }), 500);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

export interface MemorySummary {
  seconds: number;
  peakMiB: number;
  middleThirdPeakMiB: number;
  lastThirdPeakMiB: number;
  flat: boolean;
}

/**
 * Flat: after the first third (start-up, heap growing to its working size), the peak no longer
 * climbs (the last third's peak within 10% + 16 MiB of the middle third's).
 */
export function summarizeMemory(samples: MemorySample[]): MemorySummary {
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
  return memory;
}
