import { hash } from 'node:crypto';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';

/**
 * A query that PostgreSQL prepares once per connection under `name` (a node-postgres named
 * statement): it is parsed and planned on its first run on each connection, then only bound and
 * executed. For the few hot reads whose text never changes (see db/pages/README.md); on the embedded
 * database, which has no statement cache to gain from, it runs as a plain query.
 */
export interface NamedQuery extends CompiledQuery {
  readonly statementName: string;
}

/** A compiled query that runs as the named statement `name`. */
export function named(name: string, query: CompiledQuery): NamedQuery {
  return { ...query, statementName: name };
}

/**
 * A compiled query that runs as a named statement named after its text: for hot reads built with
 * Kysely whose text takes a few shapes (each shape is prepared once per connection).
 */
export function prepared(query: CompiledQuery): NamedQuery {
  return named(`k_${hash('sha1', query.sql, 'base64url')}`, query);
}

function isNamed(query: CompiledQuery): query is NamedQuery {
  return typeof (query as Partial<NamedQuery>).statementName === 'string';
}

/**
 * node-postgres answers a query that outlives `query_timeout` with an error but leaves it running on
 * the connection, so the pool would hand out a connection whose socket may be dead (a network cut,
 * a frozen server) and every later query on it would wait as long. Closing the socket makes the pool
 * drop that connection instead.
 */
function closeIfSilent(client: pg.PoolClient, error: unknown) {
  if (error instanceof Error && error.message === 'Query read timeout') {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

class PgConnection implements DatabaseConnection {
  constructor(readonly client: pg.PoolClient) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const values = [...query.parameters];
    const config = isNamed(query)
      ? { name: query.statementName, text: query.sql, values }
      : { text: query.sql, values };
    let result: pg.QueryResult;
    try {
      result = await this.client.query(config);
    } catch (error) {
      closeIfSilent(this.client, error);
      throw error;
    }
    const { command, rowCount, rows } = result;
    if (command === 'COMMIT' || command === 'ROLLBACK') return { rows: [{ command } as R] };
    const changed = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
    return { rows: (rows ?? []) as R[], ...(changed ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}) };
  }

  // biome-ignore lint/correctness/useYield: kith never streams; the interface asks for a generator.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('kith does not stream query results');
  }
}

/**
 * Kysely's driver for a node-postgres pool, with named statements as an explicit kind of query
 * (`named(...)`) instead of a convention hidden in the query text. Transactions and results behave
 * as Kysely's own PostgreSQL driver's.
 */
class PgDriver implements Driver {
  constructor(private readonly pool: pg.Pool) {}

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PgConnection(await this.pool.connect());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    let text = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      text = `start transaction${settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ''}${
        settings.accessMode ? ` ${settings.accessMode}` : ''
      }`;
    }
    await connection.executeQuery(CompiledQuery.raw(text));
  }

  async commitTransaction(connection: DatabaseConnection) {
    const { rows } = await connection.executeQuery<{ command?: string }>(CompiledQuery.raw('commit'));
    // PostgreSQL answers COMMIT with ROLLBACK when an earlier statement left the transaction aborted.
    if (rows[0]?.command === 'ROLLBACK') throw new Error('the transaction was rolled back');
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection) {
    (connection as PgConnection).client.release();
  }

  async destroy() {
    await this.pool.end();
  }
}

/** Kysely's PostgreSQL dialect over kith's driver. */
export class PgDialect implements Dialect {
  constructor(private readonly pool: pg.Pool) {}
  createAdapter = () => new PostgresAdapter();
  createDriver = () => new PgDriver(this.pool);
  createIntrospector = (db: Kysely<unknown>) => new PostgresIntrospector(db);
  createQueryCompiler = () => new PostgresQueryCompiler();
}
