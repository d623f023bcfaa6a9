import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaseResult } from '../../bench/load.js';
import { type RunOutcome, targetsOf } from '../../bench/report.js';

const result = (id: string, server: number, postgres: number, extra: Partial<CaseResult> = {}): CaseResult => ({
  id,
  title: id,
  rps: 1000,
  p50: 1,
  p99: 2,
  max: 3,
  requests: 10_000,
  errors: 0,
  non2xx: 0,
  cpuUs: { server, postgres, client: 50 },
  ...extra,
});

const outcome = (results: CaseResult[], baseline: RunOutcome['baseline'] = null) =>
  ({
    results,
    floor: { tps: 9000 },
    memory: { middleThirdPeakMiB: 200, lastThirdPeakMiB: 200, flat: true },
    baseline,
  }) as unknown as RunOutcome;

const verdicts = (o: RunOutcome) => new Map(targetsOf(o).map((t) => [t.target, t.met]));

test("the second round's targets: write CPU, the dataset restored, server ≤ PostgreSQL on the request lists", () => {
  const v = verdicts(
    outcome([
      result('1', 14, 0),
      result('2', 200, 220),
      result('3', 230, 200),
      result('7', 900, 1600, { restored: true }),
    ]),
  );
  assert.equal(v.get('case 7 (write mix) server CPU ≤ 1,000 µs'), true);
  assert.equal(v.get('case 7 (write mix) PostgreSQL CPU ≤ 1,500 µs'), false);
  assert.equal(v.get('case 7 leaves the dataset as it found it'), true);
  assert.equal(v.get('case 2 server CPU ≤ 1.0 × PostgreSQL CPU'), true);
  assert.equal(v.get('case 3 server CPU ≤ 1.0 × PostgreSQL CPU'), false);
  assert.equal(v.has('case 4 server CPU ≤ 1.0 × PostgreSQL CPU'), false, 'a case not run has no target');
  // Withdrawn by the second round: no longer targets.
  assert.ok(![...v.keys()].some((t) => t.includes('pgbench') || t.includes('of case 1')));
});

test('--compare holds each case but the floor to within 20% of the other run, server and PostgreSQL', () => {
  const baseline = { name: 'base (300k)', results: [result('1', 14, 0), result('2', 200, 200), result('5', 300, 300)] };
  const v = verdicts(outcome([result('1', 30, 0), result('2', 239, 240), result('5', 300, 361)], baseline));
  assert.equal(v.get('case 2 CPU ≤ 1.2 × base (300k) (server / PostgreSQL)'), true);
  assert.equal(v.get('case 5 CPU ≤ 1.2 × base (300k) (server / PostgreSQL)'), false);
  assert.equal(v.has('case 1 CPU ≤ 1.2 × base (300k) (server / PostgreSQL)'), false);
});
