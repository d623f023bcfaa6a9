/**
 * The long fuzz run: `npm run fuzz -- --runs 100000 [--seed N] [--concurrency C]`, on the embedded
 * database, or on PostgreSQL with DATABASE_URL set. Runs test/integration/fuzz.test.ts's random
 * requests with those settings and no test timeout; the seed is printed, and a failing run is
 * replayed with the same --runs and --seed.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string' },
  },
});
for (const [name, value] of Object.entries(values)) {
  if (value !== undefined && !/^\d+$/.test(value)) {
    console.error(`npm run fuzz: --${name} must be a whole number, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
}
const env = {
  ...process.env,
  FUZZ_RUNS: values.runs,
  FUZZ_BUDGET_S: process.env.FUZZ_BUDGET_S ?? '0',
  ...(values.seed !== undefined && { FUZZ_SEED: values.seed }),
  ...(values.concurrency !== undefined && { FUZZ_CONCURRENCY: values.concurrency }),
};
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-name-pattern=random requests',
    'test/integration/fuzz.test.ts',
  ],
  { env, stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
