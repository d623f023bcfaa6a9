import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';
import { type Driver, Kysely, type LogEvent, PGliteDialect } from 'kysely';
import pg from 'pg';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { BytesClient } from './pg-bytes.js';
import { PgDialect } from './pg-driver.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;

/** Counts the SQL statements issued inside one scope (a request, in tests and benchmarks). */
export const queryCounter = new AsyncLocalStorage<{ count: number }>();

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  /** The raw embedded database, when there is one (LISTEN/NOTIFY and the seed need it). */
  pglite?: PGlite;
  /** The node-postgres pool, when there is one. */
  pool?: pg.Pool;
  /**
   * The settings of the pool's connections (URL, timeouts, keep-alive), for connections a module
   * holds outside the pool (LISTEN), so they fail and time out the same way.
   */
  clientConfig?: pg.ClientConfig;
  close(): Promise<void>;
}

const INT8 = 20;
const DATE = 1082;
const TEXT = 25;

// Counts and ids fit in a double; dates stay as the 'YYYY-MM-DD' text the API speaks.
const parseInt8 = (value: string) => Number(value);
const keepText = (value: string) => value;

function countStatement() {
  const scope = queryCounter.getStore();
  if (scope) scope.count += 1;
}

const onQuery = (_event: LogEvent) => countStatement();

/**
 * Kysely's PGlite dialect, with a transaction's BEGIN and COMMIT (or ROLLBACK) counted as statements:
 * PGlite's own transaction sends them past Kysely's log, while on PostgreSQL they are statements
 * like any other (pg-driver.ts), so a count means the same on both.
 */
class CountingPGliteDialect extends PGliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const counted = <A extends unknown[]>(step: (...args: A) => Promise<void>) => {
      const run = step.bind(driver);
      return async (...args: A) => {
        countStatement();
        await run(...args);
      };
    };
    driver.beginTransaction = counted(driver.beginTransaction);
    driver.commitTransaction = counted(driver.commitTransaction);
    driver.rollbackTransaction = counted(driver.rollbackTransaction);
    return driver;
  }
}

/** Lets a server-side statement timeout answer first; the client-side one only ends a silent socket. */
const SILENT_SOCKET_GRACE_MS = 500;

/**
 * The settings every kith connection to PostgreSQL shares: how long connecting and each statement may
 * take (0: no limit), and TCP keep-alive so an idle connection across a cut network is noticed.
 */
export function clientConfigFor(options: {
  databaseUrl: string;
  connectTimeoutMs?: number | undefined;
  statementTimeoutMs?: number | undefined;
  applicationName?: string;
}): pg.ClientConfig {
  const config: pg.ClientConfig = {
    connectionString: options.databaseUrl,
    application_name: options.applicationName ?? 'kith',
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  if (options.connectTimeoutMs) config.connectionTimeoutMillis = options.connectTimeoutMs;
  if (options.statementTimeoutMs) {
    config.statement_timeout = options.statementTimeoutMs;
    config.query_timeout = options.statementTimeoutMs + SILENT_SOCKET_GRACE_MS;
  }
  return config;
}

/** A node-postgres pool over kith's connection settings, parsing counts as numbers and dates as text. */
export function openPool(clientConfig: pg.ClientConfig, size: number): pg.Pool {
  const pool = new pg.Pool({
    ...clientConfig,
    Client: BytesClient,
    max: size,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === INT8) return parseInt8;
        if (oid === DATE) return keepText;
        // As it came: a string, or the PageBytes of a `…$bytes` column (pg's own parser would String() them).
        if (oid === TEXT) return keepText;
        return pg.types.getTypeParser(oid, format);
      }) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('connect', (client) => {
    // A connection lost while checked out (the server restarted, an administrator ended it) emits
    // 'error' on its client; unheard, that event would end the process. The query running on it
    // fails with the same error, and the pool drops the client when it comes back.
    client.on('error', () => undefined);
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. /readyz reports the outage.
  });
  return pool;
}

/** Kysely over a node-postgres pool, with kith's driver (named statements) and statement counting. */
export function kyselyOver(pool: pg.Pool): Database {
  return new Kysely<DB>({ dialect: new PgDialect(pool), log: onQuery });
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir?: string;
  /** Use an in-memory embedded database (tests). */
  memory?: boolean;
  poolSize?: number;
  /** Opening a connection, or waiting for a free one, fails after this (ms). */
  connectTimeoutMs?: number | undefined;
  /** A statement is cancelled after this (ms); unset or 0: no limit (migrations, the seed). */
  statementTimeoutMs?: number | undefined;
}

/**
 * Opens PostgreSQL when a URL is given, otherwise the embedded PGlite database. An embedded data
 * directory is locked to this process until close(); a second opener gets DataDirInUseError.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const clientConfig = clientConfigFor({
      databaseUrl: options.databaseUrl,
      connectTimeoutMs: options.connectTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
    });
    const pool = openPool(clientConfig, options.poolSize ?? 10);
    const db = kyselyOver(pool);
    return { db, kind: 'postgres', pool, clientConfig, close: () => db.destroy() };
  }

  let dataDir: string | undefined;
  let lock: DataDirLock | undefined;
  if (!options.memory) {
    dataDir = options.dataDir ?? './data';
    mkdirSync(dataDir, { recursive: true });
    // Before PGlite touches a file: two processes on one directory corrupt it (server and CLI alike).
    lock = lockDataDir(dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(dataDir ? `${dataDir}/pgdata` : undefined, {
      parsers: { [INT8]: parseInt8, [DATE]: keepText },
      // Search (migration 0012) folds names with unaccent and indexes them with trigrams.
      extensions: { pg_trgm, unaccent },
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  // PGlite is one connection, and a query sent while a transaction is open would run inside it:
  // Kysely's PGlite adapter declares one connection, so Kysely lets one caller at a time use it
  // (test/integration/database-driver.test.ts shows both).
  const db = new Kysely<DB>({ dialect: new CountingPGliteDialect({ pglite }), log: onQuery });
  return {
    db,
    kind: 'pglite',
    pglite,
    close: async () => {
      try {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}
