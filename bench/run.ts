/**
 * kith's benchmark: `npm run bench` (needs DATABASE_URL; see docs/performance.md).
 *
 * Seeds the database when it holds no community yet, starts the built server in production mode as
 * a child process, drives it with autocannon over loopback for each case, runs pgbench on the SQL
 * that case 2 issues, samples the server's memory throughout, and writes bench/results/latest.{json,md}.
 * With `--paired URL` it does all of that for a second database too, each case on both servers one
 * right after the other, and compares the two.
 * The pieces: flags.ts → dataset.ts → server.ts → cases/ (run by load.ts, CPU from cpu.ts) → pgbench.ts → report.ts.
 */
import { type Kysely, sql } from 'kysely';
import type { DB } from '../src/db/schema.js';
import type { LoadCase } from './cases/case.js';
import { selectCases } from './cases/index.js';
import { processTree } from './cpu.js';
import { type Dataset, ensureDatabase, openDatabase, prepareDataset } from './dataset.js';
import { DATASETS, readSettings, type Settings } from './flags.js';
import { type CaseResult, medianRound, runCase } from './load.js';
import { type Floor, pgbenchFloor } from './pgbench.js';
import { type Baseline, readBaseline, writeReport } from './report.js';
import {
  build,
  type MemorySample,
  mintTokens,
  type Server,
  type ServerIdentity,
  sampleMemory,
  serverIdentity,
  startServer,
  summarizeMemory,
} from './server.js';
import { log } from './shell.js';

/** One database under test: its dataset, its server, its cases and what they measured. */
interface World {
  settings: Settings;
  identity: ServerIdentity;
  db: Kysely<DB>;
  dataset: Dataset;
  server: Server;
  memory: { stop(): MemorySample[] };
  cases: LoadCase[];
  results: CaseResult[];
  samples: MemorySample[];
  floor: Floor | null;
}

/** Prepares a database (created, migrated, seeded when empty), mints its tokens and starts its server. */
async function openWorld(settings: Settings, identity: ServerIdentity): Promise<World> {
  await ensureDatabase(settings.databaseUrl);
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
  const cases = selectCases(
    { dataset, tokens, base: identity.base, connections: settings.connections, db },
    settings.cases,
  );
  return {
    settings,
    identity,
    db,
    dataset,
    server,
    memory: sampleMemory(server.pid),
    cases,
    results: [],
    samples: [],
    floor: null,
  };
}

/** Runs a world's i-th case, its CPU read from its own server and from the backends serving its database. */
function runWorldCase(world: World, i: number): Promise<CaseResult> {
  const probe = {
    server: () => processTree(world.server.pid),
    // The client backends serving this database, but not the bench's own connection nor pgbench's.
    backends: async () => {
      const { rows } = await sql<{ pid: number }>`
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'pgbench'
          AND backend_type = 'client backend'`.execute(world.db);
      return rows.map((r) => r.pid);
    },
  };
  return runCase(world.cases[i]!, { ...world.settings, base: world.identity.base, probe });
}

const settings = readSettings();
const compared = settings.compare ? readBaseline(settings.compare) : null;
if (!settings.skipBuild) build();

const worlds: World[] = [];
try {
  const main = serverIdentity();
  worlds.push(await openWorld(settings, main));
  if (settings.paired) {
    const { databaseUrl, dataset } = settings.paired;
    const pairedSettings: Settings = {
      ...settings,
      databaseUrl,
      dataset,
      seed: { ...settings.seed, users: String(DATASETS[dataset]) },
      out: `${settings.out}-paired`,
      paired: null,
    };
    worlds.push(await openWorld(pairedSettings, serverIdentity([main.port])));
  }
  // Case by case, `--rounds` times; paired, each round on both servers back to back, who goes
  // first alternating from round to round and from case to case.
  for (let i = 0; i < worlds[0]!.cases.length; i++) {
    const rounds = new Map<World, CaseResult[]>(worlds.map((world) => [world, []]));
    for (let round = 0; round < settings.rounds; round++) {
      for (const world of (i + round) % 2 === 0 ? worlds : [...worlds].reverse()) {
        rounds.get(world)!.push(await runWorldCase(world, i));
      }
    }
    for (const [world, results] of rounds) world.results.push(medianRound(results));
  }
} finally {
  for (const world of worlds) {
    for (const c of world.cases) await c.teardown?.();
    world.samples = world.memory.stop();
    await world.server.stop();
  }
}

if (!settings.cases || settings.cases.has('2')) {
  for (const world of worlds) world.floor = await pgbenchFloor({ ...world.settings, rotation: world.dataset.rotation });
}
for (const world of worlds) await world.db.destroy();

const [first, paired] = worlds;
const report = (world: World, baseline: Baseline | null) =>
  writeReport({
    settings: world.settings,
    dataset: world.dataset,
    results: world.results,
    floor: world.floor,
    memory: summarizeMemory(world.samples),
    baseline,
  });
if (paired) {
  report(paired, null);
  const name = `${paired.settings.out} (${paired.settings.dataset}, interleaved)`;
  report(first!, { name, results: paired.results });
} else {
  report(first!, compared);
}
