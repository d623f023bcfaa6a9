import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import type { Database } from './database.js';
import * as init from './migrations/0001-init.js';
import * as events from './migrations/0002-events.js';
import * as fastLists from './migrations/0003-fast-lists.js';
import * as userSettings from './migrations/0004-user-settings.js';
import * as userJson from './migrations/0005-user-json.js';
import * as coveringIndexes from './migrations/0006-covering-request-indexes.js';
import * as coveringDays from './migrations/0007-covering-request-days.js';
import * as userJsonByApplication from './migrations/0008-user-json-by-application.js';
import * as follows from './migrations/0009-follows.js';
import * as refreshFamilies from './migrations/0010-refresh-token-families.js';
import * as userHides from './migrations/0011-user-hides.js';
import * as search from './migrations/0012-search.js';
import * as withheldRequests from './migrations/0013-withheld-requests.js';
import * as moderation from './migrations/0014-moderation.js';
import * as retention from './migrations/0015-retention.js';
import * as graphVersions from './migrations/0016-graph-versions.js';
import * as tokenCutoff from './migrations/0019-token-cutoff.js';
import * as versionNotify from './migrations/0020-version-notify.js';
import * as hotUpdates from './migrations/0021-hot-updates.js';
import * as bumpedOnce from './migrations/0022-bumped-once.js';
import * as oneTrigramIndex from './migrations/0023-one-trigram-index.js';

// Listed in code rather than read from a folder, so the compiled build needs no file lookups.
const migrations: Record<string, Migration> = {
  '0001-init': init,
  '0002-events': events,
  '0003-fast-lists': fastLists,
  '0004-user-settings': userSettings,
  '0005-user-json': userJson,
  '0006-covering-request-indexes': coveringIndexes,
  '0007-covering-request-days': coveringDays,
  '0008-user-json-by-application': userJsonByApplication,
  '0009-follows': follows,
  '0010-refresh-token-families': refreshFamilies,
  '0011-user-hides': userHides,
  '0012-search': search,
  '0013-withheld-requests': withheldRequests,
  '0014-moderation': moderation,
  '0015-retention': retention,
  '0016-graph-versions': graphVersions,
  '0019-token-cutoff': tokenCutoff,
  '0020-version-notify': versionNotify,
  '0021-hot-updates': hotUpdates,
  '0022-bumped-once': bumpedOnce,
  '0023-one-trigram-index': oneTrigramIndex,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

const migratorOf = (db: Database) =>
  new Migrator({ db, provider, migrationTableName: 'kith_migrations', migrationLockTableName: 'kith_migrations_lock' });

/** Applies every pending migration and returns their names; several processes may call it at once (Kysely takes a lock). */
export async function migrateToLatest(db: Database): Promise<string[]> {
  const { error, results } = await migratorOf(db).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export interface MigrationState {
  name: string;
  /** When it was applied, as Kysely's migration table records it; undefined: pending. */
  appliedAt: Date | undefined;
}

/** Every migration kith knows, in order, with when it was applied; reads only (creates no table). */
export async function migrationStatus(db: Database): Promise<MigrationState[]> {
  const infos = await migratorOf(db).getMigrations();
  return infos.map((info) => ({ name: info.name, appliedAt: info.executedAt }));
}
