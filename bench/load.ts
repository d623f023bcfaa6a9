/** Drives one case with autocannon (a warm-up, then the measured run) and accounts the CPU it cost. */
import autocannon from 'autocannon';
import type { LoadCase } from './cases/case.js';
import { type CpuProbe, cpuSnapshot, cpuUsed } from './cpu.js';
import { log } from './shell.js';

export interface CaseResult {
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
  /** A case that writes: whether it left the dataset as it found it. */
  restored?: boolean;
}

export interface LoadOptions {
  base: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  probe: CpuProbe;
}

function cannon(options: LoadOptions, requests: autocannon.Request[], seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: options.base, connections: options.connections, duration: seconds, requests, timeout: 10 },
      (error: unknown, result: autocannon.Result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/**
 * Runs a case: its setup, the warm-up, the measured run between two CPU snapshots, then its finish
 * (which may undo what the case wrote, and returns the note said under the table).
 */
export async function runCase(c: LoadCase, options: LoadOptions): Promise<CaseResult> {
  log(`case ${c.id}: ${c.title}`);
  await c.setup?.();
  if (options.warmupSeconds > 0) await cannon(options, c.requests(), options.warmupSeconds);
  const before = await cpuSnapshot(options.probe);
  const r = await cannon(options, c.requests(), options.durationSeconds);
  const after = await cpuSnapshot(options.probe);
  const per = (a: number, b: number) => Math.round(((b - a) * 1000) / Math.max(1, r.requests.total));
  const finished = await c.finish?.();
  const { note, restored } = typeof finished === 'object' ? finished : { note: finished, restored: undefined };
  return {
    id: c.id,
    title: c.title,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: c.expectStatus === undefined ? r.non2xx : unexpected(r, c.expectStatus),
    cpuUs: {
      server: per(0, cpuUsed(before.server, after.server)),
      postgres: per(0, cpuUsed(before.backends, after.backends)),
      client: per(before.client, after.client),
    },
    ...(note ? { note } : {}),
    ...(restored !== undefined ? { restored } : {}),
  };
}

/** How many answers had another status than `status` (a 304 case: every 200 means a tag did not match). */
function unexpected(r: autocannon.Result, status: number): number {
  const stats = r.statusCodeStats ?? {};
  return Object.entries(stats).reduce((n, [code, s]) => (Number(code) === status ? n : n + (s?.count ?? 0)), 0);
}

/**
 * One result for a case run several times (`--rounds`): the round whose CPU per request (server +
 * PostgreSQL) is the median (of an even number of rounds, the cheaper middle one), with every
 * round's errors and non-2xx added up, restored only if every round restored the dataset, and each
 * round's CPU in its note. A single round as it is.
 */
export function medianRound(rounds: CaseResult[]): CaseResult {
  if (rounds.length === 0) throw new RangeError('no round to take the median of');
  if (rounds.length === 1) return rounds[0]!;
  const cost = (r: CaseResult) => (r.cpuUs ? r.cpuUs.server + r.cpuUs.postgres : 0);
  const median = [...rounds].sort((a, b) => cost(a) - cost(b))[Math.floor((rounds.length - 1) / 2)]!;
  const each = rounds.map((r) => (r.cpuUs ? `${r.cpuUs.server} / ${r.cpuUs.postgres}` : '–')).join(', ');
  const restored = rounds.every((r) => r.restored === undefined) ? undefined : rounds.every((r) => r.restored === true);
  return {
    ...median,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
    note: `${median.note ? `${median.note}; ` : ''}the median of ${rounds.length} rounds (server / PostgreSQL µs: ${each})`,
    ...(restored !== undefined ? { restored } : {}),
  };
}
