import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CaseResult, medianRound } from '../../bench/load.js';

const round = (server: number, postgres: number, extra: Partial<CaseResult> = {}): CaseResult => ({
  id: '2',
  title: 'case 2',
  rps: 1000 + server,
  p50: 1,
  p99: 2,
  max: 3,
  requests: 10_000,
  errors: 0,
  non2xx: 0,
  cpuUs: { server, postgres, client: 50 },
  ...extra,
});

test('one round is the result as it is', () => {
  const only = round(300, 400, { note: 'a note' });
  assert.equal(medianRound([only]), only);
});

test('the median round by server + PostgreSQL CPU, whatever the order they ran in', () => {
  const result = medianRound([round(500, 600), round(300, 400), round(900, 100)]);
  // Costs 1,100, 700 and 1,000: the median is the third round's (900 / 100).
  assert.deepEqual(result.cpuUs, { server: 900, postgres: 100, client: 50 });
  assert.equal(result.rps, 1900);
  assert.match(result.note!, /the median of 3 rounds \(server \/ PostgreSQL µs: 500 \/ 600, 300 \/ 400, 900 \/ 100\)/);
});

test('errors of every round count, and a dataset is restored only if every round restored it', () => {
  const result = medianRound([
    round(300, 400, { errors: 1, restored: true }),
    round(310, 400, { non2xx: 2, restored: false, note: 'case 7' }),
    round(320, 400, { restored: true }),
  ]);
  assert.equal(result.errors, 1);
  assert.equal(result.non2xx, 2);
  assert.equal(result.restored, false);
  assert.match(result.note!, /^case 7; the median of 3 rounds/);
  assert.equal(medianRound([round(1, 1), round(2, 2)]).restored, undefined);
});

test('of an even number of rounds, the cheaper of the two middle ones', () => {
  const result = medianRound([round(700, 700), round(100, 100), round(400, 400), round(300, 300)]);
  assert.deepEqual(result.cpuUs, { server: 300, postgres: 300, client: 50 });
});
