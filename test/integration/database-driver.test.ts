import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PGliteDialect, sql } from 'kysely';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { requestPage } from '../../src/db/pages/request-pages.js';
import { named } from '../../src/db/pg-driver.js';
import type { DB } from '../../src/db/schema.js';
import { openTestDatabase } from '../helpers/world.js';

/**
 * A transaction holds PGlite's one connection, and PGlite's connection sends every query into
 * whichever transaction is open: callers must take turns. Runs a rollback-bound insert and, while it is
 * open, a count from outside: returns what the outside saw and what stayed.
 */
async function outsiderDuringTransaction(db: Kysely<DB>) {
  await sql`CREATE TABLE IF NOT EXISTS probe (id int)`.execute(db);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let outside: Promise<number> | undefined;
  await db
    .transaction()
    .execute(async (tx) => {
      await sql`INSERT INTO probe VALUES (1)`.execute(tx);
      outside = sql<{ n: number }>`SELECT count(*)::int AS n FROM probe`.execute(db).then((r) => r.rows[0]!.n);
      // Let the outsider's query be issued while this transaction is open.
      setTimeout(release, 50);
      await held;
      throw new Error('roll back');
    })
    .catch(() => undefined);
  const seen = await outside!;
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM probe`.execute(db);
  return { seen, after: rows[0]!.n };
}

/** PGlite's dialect with its adapter claiming many connections: Kysely then takes no connection mutex. */
class UnserializedPGliteDialect extends PGliteDialect {
  override createAdapter() {
    const adapter = super.createAdapter();
    return Object.create(adapter, { supportsMultipleConnections: { get: () => true } });
  }
}

describe('the embedded database: one connection, one caller at a time', () => {
  test("without serialization, another caller's query runs inside an open transaction", async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<DB>({ dialect: new UnserializedPGliteDialect({ pglite }) });
    try {
      assert.deepEqual(await outsiderDuringTransaction(db), { seen: 1, after: 0 });
    } finally {
      await db.destroy();
    }
  });

  test("Kysely's PGlite dialect serializes callers (its adapter declares one connection), and so kith's database does", async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
    try {
      assert.deepEqual(await outsiderDuringTransaction(db), { seen: 0, after: 0 });
    } finally {
      await db.destroy();
    }
    const handle = await openDatabase({ memory: true });
    try {
      assert.deepEqual(await outsiderDuringTransaction(handle.db), { seen: 0, after: 0 });
    } finally {
      await handle.close();
    }
  });
});

describe('named statements (PostgreSQL)', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL' }, () => {
  let handle: DatabaseHandle & { databaseUrl?: string };
  let single: DatabaseHandle;
  before(async () => {
    handle = await openTestDatabase();
    // One connection, so the statements it prepared can be listed from it.
    single = await openDatabase({ databaseUrl: handle.databaseUrl, poolSize: 1 });
  });
  after(async () => {
    await single.close();
    await handle.close();
  });

  const prepared = async () => {
    const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements ORDER BY name`.execute(
      single.db,
    );
    return rows.map((r) => r.name);
  };

  test('a request page runs as its named statement, prepared once per connection', async () => {
    assert.deepEqual(await prepared(), []);
    for (let i = 0; i < 3; i++) await requestPage(single.db, 1, { list: 'pending', limit: 20, offset: 0 });
    assert.deepEqual(await prepared(), ['kith_page_pending_from_start']);
    await requestPage(single.db, 1, { list: 'sent', limit: 5, offset: 0 });
    assert.deepEqual(await prepared(), ['kith_page_pending_from_start', 'kith_page_sent_from_start']);
  });

  test('a named query inside a transaction, and plain queries beside it, keep working', async () => {
    const result = await single.db.transaction().execute(async (tx) => {
      const { rows } = await tx.executeQuery<{ v: number }>(
        named('kith_test_echo', CompiledQuery.raw('SELECT $1::int AS v', [41])),
      );
      const plain = await sql<{ w: number }>`SELECT ${1}::int AS w`.execute(tx);
      return rows[0]!.v + plain.rows[0]!.w;
    });
    assert.equal(result, 42);
    assert.ok((await prepared()).includes('kith_test_echo'));
  });
});
