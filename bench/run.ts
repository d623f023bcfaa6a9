/**
 * kith's benchmark: `npm run bench` (needs DATABASE_URL; see docs/performance.md).
 *
 * Seeds the database when it holds no community yet, starts the built server in production mode as
 * a child process, drives it with autocannon over loopback for each case, runs pgbench on the SQL
 * that case 2 issues, samples the server's memory throughout, and writes bench/results/latest.{json,md}.
 * The pieces: flags.ts → dataset.ts → server.ts → cases/ (run by load.ts, CPU from cpu.ts) → pgbench.ts → report.ts.
 */
import { sql } from 'kysely';
import { selectCases } from './cases/index.js';
import { processTree } from './cpu.js';
import { ensureDatabase, openDatabase, prepareDataset } from './dataset.js';
import { readSettings } from './flags.js';
import { type CaseResult, runCase } from './load.js';
import { type Floor, pgbenchFloor } from './pgbench.js';
import { readBaseline, writeReport } from './report.js';
import {
  build,
  type MemorySample,
  mintTokens,
  sampleMemory,
  serverIdentity,
  startServer,
  summarizeMemory,
} from './server.js';
import { log } from './shell.js';

const settings = readSettings();
const baseline = settings.compare ? readBaseline(settings.compare) : null;
const identity = serverIdentity();

await ensureDatabase(settings.databaseUrl);
if (!settings.skipBuild) build();
const db = openDatabase(settings.databaseUrl);
const dataset = await prepareDataset(db, {
  databaseUrl: settings.databaseUrl,
  jwtSecret: identity.jwtSecret,
  rotation: settings.rotation,
  seed: settings.seed,
});

const { typicalIds, celebrity, friendPairs, freshPairs } = dataset;
log(`minting tokens (${typicalIds.length + 2 * freshPairs.length + 2})`);
const tokens = await mintTokens(identity, [
  ...typicalIds,
  celebrity.id,
  dataset.hub.id,
  dataset.adminId,
  ...friendPairs.map((p) => p.viewer),
  ...freshPairs.flatMap(({ a, b }) => [a, b]),
]);

const server = await startServer(identity, settings);
const probe = {
  server: () => processTree(server.pid),
  // The client backends serving this database, but not the bench's own connection nor pgbench's.
  backends: async () => {
    const { rows } = await sql<{ pid: number }>`
      SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'pgbench'
        AND backend_type = 'client backend'`.execute(db);
    return rows.map((r) => r.pid);
  },
};
const memory = sampleMemory(server.pid);
const cases = selectCases(
  { dataset, tokens, base: identity.base, connections: settings.connections, db },
  settings.cases,
);
const results: CaseResult[] = [];
let samples: MemorySample[] = [];
try {
  for (const c of cases) results.push(await runCase(c, { ...settings, base: identity.base, probe }));
} finally {
  for (const c of cases) await c.teardown?.();
  samples = memory.stop();
  await server.stop();
}

let floor: Floor | null = null;
if (!settings.cases || settings.cases.has('2')) floor = await pgbenchFloor({ ...settings, rotation: dataset.rotation });
await db.destroy();

writeReport({ settings, dataset, results, floor, memory: summarizeMemory(samples), baseline });
