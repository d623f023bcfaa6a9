import { buildApp } from './app.js';
import { openAndPrepare } from './bootstrap.js';
import { ConfigError, loadConfig } from './config.js';
import { loggerOptions } from './logger.js';

/** Starts the server: config, database, HTTP; closes everything in order on SIGTERM/SIGINT. */
export async function start() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kith: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const handle = await openAndPrepare(config).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`kith: cannot open the database: ${message}\n`);
    process.exit(1);
  });
  const app = await buildApp({
    config,
    db: handle.db,
    logger: loggerOptions(config.logLevel),
    realtime: { handle, databaseUrl: config.databaseUrl },
  });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    try {
      await app.close();
      await handle.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { database: handle.kind === 'pglite' ? `embedded (${config.dataDir})` : 'postgresql' },
    `kith listening on http://${config.host}:${config.port}`,
  );
}

await start();
