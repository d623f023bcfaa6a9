import type { Config } from './config.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { ensureAdmin } from './db/repositories/users.js';
import { ensureDefaults } from './services/preferences.js';
import { hashPassword } from './services/users.js';

/** Opens the configured database, applies migrations, and creates the administrator and default preferences. */
export async function openAndPrepare(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'adminPassword'> & { databasePoolSize?: number },
  options: { memory?: boolean } = {},
): Promise<DatabaseHandle> {
  const handle = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    ...(config.databasePoolSize === undefined ? {} : { poolSize: config.databasePoolSize }),
    ...options,
  });
  try {
    await migrateToLatest(handle.db);
    await ensureAdmin(handle.db, config.adminPassword ? await hashPassword(config.adminPassword) : null);
    await ensureDefaults(handle.db);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
