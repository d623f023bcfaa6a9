import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

// The long runs on demand: `npm run stress -- --ops 200000 [--seed N] [--mode friendship|follow|both]`
// and `npm run crash-loop -- --cycles 100 [--seed N]`, on PostgreSQL when DATABASE_URL is set, else
// embedded. They run the suite's own test files, bigger. The stress runs both modes by default, the
// follow-mode run a quarter of --ops; `--mode follow` gives it all of --ops.

const [kind, ...args] = process.argv.slice(2);
const { values } = parseArgs({
  args,
  options: {
    ops: { type: 'string' },
    seed: { type: 'string' },
    cycles: { type: 'string' },
    mode: { type: 'string' },
  },
  strict: true,
});
const env: NodeJS.ProcessEnv = { ...process.env };
if (values.seed) env.KITH_STRESS_SEED = values.seed;
if (values.mode && !['friendship', 'follow', 'both'].includes(values.mode)) {
  process.stderr.write(`--mode: friendship, follow or both, not ${values.mode}\n`);
  process.exit(2);
}
if (values.mode) env.KITH_STRESS_MODE = values.mode;
if (values.ops) env[values.mode === 'follow' ? 'KITH_STRESS_FOLLOW_OPS' : 'KITH_STRESS_OPS'] = values.ops;
if (values.cycles) env.KITH_CRASH_CYCLES = values.cycles;
const file = kind === 'crash-loop' ? 'test/integration/crash-loop.test.ts' : 'test/integration/stress.test.ts';
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=0', file],
  { env, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
