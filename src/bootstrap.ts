import type { Config } from './config.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { ensureStoredUsersCurrent } from './db/repositories/user-json.js';
import { ensureAdmin } from './db/repositories/users.js';
import { ensureDefaults } from './services/preferences.js';
import { hashPassword } from './services/users.js';

type PrepareConfig = Pick<Config, 'databaseUrl' | 'dataDir' | 'adminPassword'> &
  Partial<Pick<Config, 'databasePoolSize' | 'databaseConnectTimeout' | 'databaseStatementTimeout'>>;

/** What preparing the database did: the migrations it applied, and whether it created the administrator. */
export interface Prepared {
  migrated: string[];
  adminCreated: boolean;
}

/**
 * Opens the configured database, applies migrations, and creates the administrator and default preferences.
 * The handle it returns carries the configured statement timeout; the preparation itself does not (a
 * migration building an index, or waiting for another process's migration lock, may take minutes).
 */
export async function openAndPrepare(
  config: PrepareConfig,
  options: { memory?: boolean } = {},
): Promise<DatabaseHandle & { prepared: Prepared }> {
  const open = (statementTimeoutMs: number | undefined) =>
    openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      ...(config.databasePoolSize === undefined ? {} : { poolSize: config.databasePoolSize }),
      connectTimeoutMs: config.databaseConnectTimeout,
      statementTimeoutMs,
      ...options,
    });
  const limited = config.databaseUrl !== undefined && (config.databaseStatementTimeout ?? 0) > 0;
  const handle = await open(limited ? 0 : undefined);
  let prepared: Prepared;
  try {
    const migrated = await migrateToLatest(handle.db);
    const adminCreated = await ensureAdmin(
      handle.db,
      config.adminPassword ? await hashPassword(config.adminPassword) : null,
    );
    await ensureDefaults(handle.db);
    await ensureStoredUsersCurrent(handle.db);
    prepared = { migrated, adminCreated };
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (!limited) return { ...handle, prepared };
  await handle.close();
  return { ...(await open(config.databaseStatementTimeout)), prepared };
}
