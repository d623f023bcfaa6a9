import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffMs } from '../../src/backoff.js';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';

/** An error as node-postgres or Node's net module raises it. */
const failure = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('isDatabaseUnavailable: the errors that answer 503', () => {
  for (const [label, error] of [
    ['connection refused', failure('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['connection reset', failure('read ECONNRESET', 'ECONNRESET')],
    ['pool checkout timeout', failure('timeout exceeded when trying to connect')],
    ['connection ended under a query', failure('Connection terminated unexpectedly')],
    ['connect timeout of a client', failure('Connection terminated due to connection timeout')],
    ['silent socket', failure('Query read timeout')],
    ['administrator shutdown', failure('terminating connection due to administrator command', '57P01')],
    ['crash shutdown', failure('terminating connection because of crash of another server process', '57P02')],
    ['cannot connect now', failure('the database system is starting up', '57P03')],
    ['too many connections', failure('sorry, too many clients already', '53300')],
    ['statement timeout', failure('canceling statement due to statement timeout', '57014')],
    ['connection exception class 08', failure('connection failure', '08006')],
    [
      'several addresses refused',
      new AggregateError([failure('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed'),
    ],
    ['wrapped', new Error('query failed', { cause: failure('read ECONNRESET', 'ECONNRESET') })],
  ] as const) {
    test(label, () => assert.equal(isDatabaseUnavailable(error), true));
  }
});

describe('isDatabaseUnavailable: other errors stay what they are', () => {
  for (const [label, error] of [
    ['a unique violation', failure('duplicate key value violates unique constraint', '23505')],
    ['a data exception', failure('invalid byte sequence for encoding "UTF8": 0x00', '22021')],
    ['a syntax error', failure('syntax error at or near "SELEC"', '42601')],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['not an error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ] as const) {
    test(label, () => assert.equal(isDatabaseUnavailable(error), false));
  }
});

test('backoffMs doubles from the first wait and stops at the cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 100].map((failures) => backoffMs(failures, 1000, 30_000)),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
});
