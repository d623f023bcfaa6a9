import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { openAndPrepare, type Prepared } from './bootstrap.js';
import { type Config, ConfigError, loadConfig, resolveJwtSecret } from './config.js';
import { CHANNEL_DELIVERIES } from './contracts/channels.js';
import { DataDirInUseError } from './db/data-dir-lock.js';
import type { DatabaseHandle } from './db/database.js';
import { ReadRouter } from './db/replicas.js';
import { loggerOptions } from './logger.js';
import { liftExpiredBlocks } from './services/member-admin.js';
import { WebhookWorker } from './webhooks/worker.js';

const BLOCK_SWEEP_MS = 60_000;

/**
 * The configuration, its JWT secret resolved (generated into the data directory on the first start
 * outside production), or one line naming what is wrong and exit 1.
 */
function configOrExit(): Config {
  try {
    return resolveJwtSecret(loadConfig());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kith: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** The prepared database (migrated, administrator and defaults in place), or one line and exit 1. */
function databaseOrExit(config: Config) {
  return openAndPrepare(config).catch((error: unknown) => {
    // The in-use message already says what to do; "cannot open the database" would only bury it.
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof DataDirInUseError) process.stderr.write(`kith: ${message}\n`);
    else process.stderr.write(`kith: cannot open the database: ${message}\n`);
    process.exit(1);
  });
}

/**
 * The read router over DATABASE_READ_URL's replicas (undefined without any), or one line and exit 1. A
 * replica down at the start is no error: reads go to the primary until it answers.
 */
async function readsOrExit(config: Config, handle: DatabaseHandle): Promise<ReadRouter | undefined> {
  if (config.databaseReadUrls.length === 0) return undefined;
  try {
    return await ReadRouter.open(handle, config.databaseReadUrls, {
      poolSize: config.databasePoolSize,
      connectTimeoutMs: config.databaseConnectTimeout,
      statementTimeoutMs: config.databaseStatementTimeout,
    });
  } catch (error) {
    process.stderr.write(`kith: cannot set up the read replicas: ${error instanceof Error ? error.message : error}\n`);
    await handle.close().catch(() => undefined);
    process.exit(1);
  }
}

/** KITH_ADMIN_PASSWORD only sets the password of the administrator it creates; later it would be silently ignored. */
function warnIgnoredAdminPassword(config: Config, prepared: Prepared, warn: (message: string) => void) {
  if (config.adminPassword && !prepared.adminCreated) {
    warn(
      'KITH_ADMIN_PASSWORD is ignored: the administrator exists already. To change its password: kith user set-password --username admin',
    );
  }
}

/** Why listening failed, in one line an operator can act on. */
function listenError(error: unknown, config: Config): string {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${config.host}:${config.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is in use by another process (choose another PORT, or stop it)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `cannot listen on HOST=${config.host}: no such host (use an address of this machine, such as 127.0.0.1 or 0.0.0.0)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on HOST=${config.host}: not an address of this machine (such as 127.0.0.1 or 0.0.0.0)`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`;
    default:
      return `cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Set by bin/start.js, which `npm start` runs: stop when the parent exits (npm does not pass SIGTERM
 * on). Cluster workers inherit the primary's argv, and stop when the primary is gone.
 */
const STOP_WITH_PARENT = process.argv.includes('--stop-with-parent');

/** The process that started this one, as it was when this module loaded (before the slow start). */
const parentAtStart = process.ppid;

/**
 * Calls `exited` once the process that started this one has gone (the parent id is no longer the one at
 * start; at once if it went during the start). `npm start` does not pass SIGTERM on to the server: npm
 * exits and the server, reparented, would run on unseen.
 */
function onParentExit(exited: () => void) {
  const check = () => {
    if (process.ppid === parentAtStart) return false;
    clearInterval(timer);
    exited();
    return true;
  };
  const timer = setInterval(check, 500);
  timer.unref();
  check();
}

/** Starts the server: config, database, HTTP; closes everything in order on SIGTERM/SIGINT or when its parent exits. */
export async function start(config: Config) {
  const handle = await databaseOrExit(config);
  const reads = await readsOrExit(config, handle);
  const app = await buildApp({
    config,
    db: handle.db,
    reads,
    pool: handle.pool,
    logger: loggerOptions(config.logLevel),
    realtime: { handle, databaseUrl: config.databaseUrl },
    tagCache: { handle, databaseUrl: config.databaseUrl, entries: config.tagCacheEntries },
    webhooks: config.webhooks,
  });
  reads?.useLog(app.log);
  const worker = config.webhooks.workerInServer
    ? new WebhookWorker(handle.db, {
        config: config.webhooks,
        retention: config.retention,
        log: app.log,
        onListenReconnect: app.metrics.listenReconnects(CHANNEL_DELIVERIES),
      })
    : undefined;

  // Blocks for some days end on their own: each process looks once a minute (each lift locks and
  // re-checks its member, so processes sweeping at once lift a block once).
  const sweep = setInterval(() => {
    liftExpiredBlocks(handle.db).catch((error: unknown) =>
      app.log.error({ err: error }, 'lifting expired blocks failed'),
    );
  }, BLOCK_SWEEP_MS);
  sweep.unref();

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    clearInterval(sweep);
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    try {
      await app.close();
      await worker?.stop();
      await reads?.close();
      await handle.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // Workers of a cluster find the administrator their primary made: only a process that prepared alone says it.
  if (cluster.isPrimary) warnIgnoredAdminPassword(config, handle.prepared, (m) => app.log.warn(m));
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    process.stderr.write(`kith: ${listenError(error, config)}\n`);
    closing = true;
    await app.close().catch(() => undefined);
    await reads?.close().catch(() => undefined);
    await handle.close().catch(() => undefined);
    process.exit(1);
  }
  await worker?.start(handle, config.databaseUrl);
  app.log.info(
    { database: handle.kind === 'pglite' ? `embedded (${config.dataDir})` : 'postgresql' },
    `kith listening on http://${config.host}:${config.port}`,
  );
  // Watched once serving: a parent gone during the start is noticed here, and shutdown finds all to close.
  if (STOP_WITH_PARENT) onParentExit(() => void shutdown('parent exited'));
}

/**
 * KITH_WORKERS=N (N > 1) runs N server processes on one port (node:cluster: the primary accepts
 * connections and hands them round-robin to the workers). The primary applies migrations once,
 * then forks; a worker that dies is replaced; SIGTERM/SIGINT reach every worker.
 */
async function startPrimary(config: Config) {
  const { workers } = config;
  const handle = await databaseOrExit(config);
  await handle.close();
  warnIgnoredAdminPassword(config, handle.prepared, (m) => process.stderr.write(`kith: ${m}\n`));

  let closing = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (closing) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(`kith: worker ${worker.process.pid} exited (${code}); starting another\n`);
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (STOP_WITH_PARENT) onParentExit(() => stop('SIGTERM'));
}

// A worker forked by the primary reads the same configuration and serves as a single process would.
const config = configOrExit();
try {
  if (cluster.isPrimary && config.workers > 1) await startPrimary(config);
  else await start(config);
} catch (error) {
  // What an operator can cause has its own line above; anything else is still one line, its stack on demand.
  const debug = config.logLevel === 'debug' || config.logLevel === 'trace';
  const detail = error instanceof Error ? (debug ? error.stack : error.message) : String(error);
  process.stderr.write(`kith: cannot start: ${detail}${debug ? '' : ' (LOG_LEVEL=debug shows where)'}\n`);
  process.exit(1);
}
