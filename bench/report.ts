/**
 * The bench's report: ratios to case 1, the targets, what this run's own CPU costs allow, and the
 * files bench/results/<out>.json and <out>.md (the markdown also goes to stdout).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from './dataset.js';
import type { Settings } from './flags.js';
import type { CaseResult } from './load.js';
import type { Floor } from './pgbench.js';
import type { MemorySummary } from './server.js';
import { root } from './shell.js';

export interface Target {
  target: string;
  value: string;
  met: boolean;
}

export interface RunOutcome {
  settings: Settings;
  dataset: Dataset;
  results: CaseResult[];
  floor: Floor | null;
  memory: MemorySummary;
}

/** The targets the design promises (docs/performance.md), measured on this run. */
function targetsOf({ results, floor, memory }: RunOutcome): Target[] {
  const by = (id: string) => results.find((r) => r.id === id);
  const targets: Target[] = [];
  const case1 = by('1');
  const c2 = by('2');
  if (c2 && floor) {
    const v = c2.rps / floor.tps;
    targets.push({ target: 'case 2 ≥ 60% of the pgbench floor', value: `${(v * 100).toFixed(0)}%`, met: v >= 0.6 });
  }
  if (c2 && case1) {
    const v = c2.rps / case1.rps;
    targets.push({ target: 'case 2 ≥ 20% of case 1', value: `${(v * 100).toFixed(0)}%`, met: v >= 0.2 });
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
  // The followers list: deep offsets and `next` walks cost what its first page costs.
  const c8 = by('8');
  for (const [id, what] of [
    ['9', 'followers deep offset'],
    ['9b', 'followers next walk'],
  ] as const) {
    const c = by(id);
    if (!(c8 && c)) continue;
    const v = c.p99 / c8.p99;
    targets.push({ target: `case ${id} (${what}) p99 ≤ 1.5 × case 8 p99`, value: `${v.toFixed(2)}×`, met: v <= 1.5 });
  }
  // Free re-reads: a 304 costs at most a quarter of the full page's CPU (server + PostgreSQL).
  for (const [id, full] of [
    ['2-304', '2'],
    ['5-304', '5'],
  ] as const) {
    const [c, f] = [by(id)?.cpuUs, by(full)?.cpuUs];
    if (!(c && f)) continue;
    const v = (c.server + c.postgres) / (f.server + f.postgres);
    targets.push({ target: `case ${id} CPU ≤ 25% of case ${full}`, value: `${(v * 100).toFixed(0)}%`, met: v <= 0.25 });
  }
  const bad = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
  targets.push({ target: 'zero errors and non-2xx', value: String(bad), met: bad === 0 });
  targets.push({
    target: 'memory flat',
    value: `${memory.middleThirdPeakMiB} → ${memory.lastThirdPeakMiB} MiB`,
    met: memory.flat,
  });
  return targets;
}

/**
 * What this run's own costs allow (see docs/performance.md, "What the machine allows"). Every
 * run saturates the same cores, so throughputs stand in the inverse ratio of the CPU one request
 * (or transaction) costs on them, whoever spends it: case 2 / X = cost(X) / cost(case 2).
 */
function boundsOf({ results, floor }: RunOutcome): string[] {
  const case1 = results.find((r) => r.id === '1');
  const c2 = results.find((r) => r.id === '2');
  const cost2 = c2?.cpuUs;
  const cost1 = case1?.cpuUs;
  if (!(c2 && case1 && floor && cost2?.postgres && cost2.client && cost2.server && cost1?.server && cost1.client)) {
    return [];
  }
  const fixed = cost2.postgres + cost2.client; // what case 2 costs besides the server
  const pgbench = (floor.cpuUsPerTransaction ?? 0) + (floor.clientCpuUsPerTransaction ?? 0);
  const healthz = cost1.server + cost1.client;
  const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
  return [
    `the database alone (pgbench, no HTTP) reached ${pct(floor.tps / case1.rps)} of case 1`,
    `CPU µs per request: case 1 ${cost1.server} (server) + ${cost1.client} (autocannon); pgbench ${floor.cpuUsPerTransaction} + ${floor.clientCpuUsPerTransaction} (its client); case 2 ${cost2.postgres} (PostgreSQL) + ${cost2.server} (server) + ${cost2.client} (autocannon)`,
    `≥ 60% of pgbench needs the server at ≤ ${Math.round(pgbench / 0.6 - fixed)} µs per case-2 request; a server costing nothing would reach ${pct(pgbench / fixed)} of pgbench`,
    `≥ 20% of case 1 needs the server at ≤ ${Math.round(healthz / 0.2 - fixed)} µs per case-2 request (it spends ${cost1.server} µs on a /healthz); a server costing nothing would reach ${pct(healthz / fixed)} of case 1`,
  ];
}

/** Fills in each result's ratio to case 1, writes bench/results/<out>.{json,md} and prints the markdown. */
export function writeReport(outcome: RunOutcome): void {
  const { settings, dataset, results, floor, memory } = outcome;
  const case1 = results.find((r) => r.id === '1');
  for (const r of results) if (case1) r.ratio = Math.round((r.rps / case1.rps) * 1000) / 1000;
  const targets = targetsOf(outcome);
  const bounds = boundsOf(outcome);
  const { stats, celebrity, followed } = dataset;

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    settings: {
      connections: settings.connections,
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      workers: settings.workers,
      pool: settings.pool,
      rotation: dataset.typicalIds.length,
    },
    dataset: {
      name: settings.dataset,
      ...stats,
      celebrity,
      followed,
      seeded: dataset.seeded,
      followsAdded: dataset.followsAdded,
    },
    results,
    pgbench: floor,
    memory,
    targets,
    bounds,
  };

  const md = [
    `| case | what | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | × case 1 | CPU µs/req: server | PostgreSQL | load generator |`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...results.map(
      (r) =>
        `| ${r.id} | ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.max} | ${r.errors} | ${r.non2xx} | ${r.ratio ?? ''} | ${r.cpuUs?.server ?? ''} | ${r.cpuUs?.postgres ?? ''} | ${r.cpuUs?.client ?? ''} |`,
    ),
    ...(floor
      ? [
          `| 2-db | pgbench, case 2's SQL, same users and concurrency | ${floor.tps} | | | | 0 | | | | ${floor.cpuUsPerTransaction ?? ''} | ${floor.clientCpuUsPerTransaction ?? ''} |`,
        ]
      : []),
    '',
    ...results.filter((r) => r.note).map((r) => `- case ${r.id}: ${r.note}`),
    `- server RSS: peak ${memory.peakMiB} MiB over ${memory.seconds} s; peak in the middle third ${memory.middleThirdPeakMiB} MiB, last third ${memory.lastThirdPeakMiB} MiB (${memory.flat ? 'flat' : 'growing'})`,
    `- dataset${settings.dataset ? ` ${settings.dataset}` : ''}: ${stats.users} users, ${stats.connections} connection rows, ${stats.pending} pending and ${stats.rejected} rejected requests, ${stats.follows} follows; celebrity ${celebrity.id} with ${celebrity.pending} pending, ${followed.id} with ${followed.followers} followers`,
    `- ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.durationSeconds} s per case, KITH_WORKERS=${settings.workers}, DATABASE_POOL_SIZE=${settings.pool}, ${report.machine.cpus} CPUs, Node ${process.version}`,
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
  writeFileSync(join(dir, `${settings.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, `${settings.out}.md`), md);
  process.stdout.write(`\n${md}`);
}
