import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { openAndPrepare } from '../../src/bootstrap.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { ReadRouter } from '../../src/db/replicas.js';
import { PrivateCluster, postgresBinaries } from '../helpers/private-cluster.js';
import { insertMember, JWT_SECRET, TEST_WEBHOOKS } from '../helpers/world.js';

// Reads on a real streaming replica: a private primary and a standby made from it with
// `pg_basebackup -R`, both on 127.0.0.1, whatever DATABASE_URL says. The file always uses its own
// clusters, so it runs in one of CI's two runs only: the PostgreSQL one (DATABASE_URL set). In the
// embedded-database run it registers nothing (it is not skipped: there is nothing of PGlite's to test).

/** One kith "process": its own pool, read router (LISTEN included) and HTTP server. */
interface Process {
  app: FastifyInstance;
  handle: DatabaseHandle;
  reads: ReadRouter;
  url: string;
}

async function startProcess(primaryUrl: string, readUrls: string[], maxLagMs = 120_000): Promise<Process> {
  const handle = await openAndPrepare({ databaseUrl: primaryUrl, dataDir: '', adminPassword: 'Admin-pass-1' });
  // A lag bound far above the test's pauses, so a slow machine never turns a paused replica into an unused one.
  const reads = await ReadRouter.open(handle, readUrls, {
    poolSize: 2,
    connectTimeoutMs: 2000,
    pollMs: 50,
    maxLagMs,
  });
  const app = await buildApp({
    config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false },
    db: handle.db,
    reads,
    pool: handle.pool,
    webhooks: TEST_WEBHOOKS,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, handle, reads, url: `http://127.0.0.1:${port}` };
}

async function stopProcess(p: Process | undefined) {
  await p?.app.close();
  await p?.reads.close();
  await p?.handle.close();
}

async function call(p: Process, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${p.url}/api/v2${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.equal(response.status < 300, true, `${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** The process's `kith_db_reads_total` for `target` (and the other read figures) from /metrics. */
async function metric(p: Process, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const replicaReads = (p: Process) => metric(p, 'kith_db_reads_total', 'target="replica-1"');
const primaryReads = (p: Process) => metric(p, 'kith_db_reads_total', 'target="primary"');

/** Polls until `check` holds; fails naming `what` after `ms`. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const received = (p: Process, token: string) =>
  call(p, 'GET', '/user/connection/requests/', token).then((page) =>
    page.results.map((r: { from_user: { id: number } }) => r.from_user.id),
  );
const sent = (p: Process, token: string) =>
  call(p, 'GET', '/user/connection/requests_sent/', token).then((page) =>
    page.results.map((r: { to_user: { id: number } }) => r.to_user.id),
  );

/** The test's own connection, beside kith's; stopping its server ends it without an uncaught 'error'. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const bin = postgresBinaries();
const register = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

if (register) {
  describe('reads on a streaming replica (DATABASE_READ_URL)', { timeout: 180_000 }, () => {
    let primary: PrivateCluster;
    let replica: PrivateCluster;
    let a: Process;
    let b: Process;
    let onReplica: pg.Client;
    let onPrimary: pg.Client;

    /** The replica has replayed everything the primary had written when asked. */
    const caughtUp = async () => {
      const { rows } = await onPrimary.query(`SELECT pg_current_wal_lsn()::text AS lsn`);
      await until('the replica replays the primary', async () => {
        const r = await onReplica.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok`, [rows[0].lsn]);
        return r.rows[0].ok === true;
      });
    };

    before(async () => {
      assert.ok(bin, 'the PostgreSQL server binaries (initdb, pg_basebackup) in /usr/lib/postgresql/*/bin');
      primary = await PrivateCluster.create(bin);
      replica = await PrivateCluster.replicaOf(primary);
      a = await startProcess(primary.url, [replica.url]);
      b = await startProcess(primary.url, [replica.url]);
      onReplica = await connect(replica.url);
      onPrimary = await connect(primary.url);
    });

    after(async () => {
      await onReplica?.end().catch(() => undefined);
      await onPrimary?.end().catch(() => undefined);
      await stopProcess(a);
      await stopProcess(b);
      await replica?.destroy();
      await primary?.destroy();
    });

    test('lists are served by the replica; the writer reads their own write while replay is paused, in any process', async () => {
      const [x, y, z] = [
        await insertMember(a.handle.db),
        await insertMember(a.handle.db),
        await insertMember(a.handle.db),
      ];
      await call(a, 'POST', `/user/${y.id}/connection/request/`, x.token);
      await caughtUp();
      await until('process a uses the replica', () => a.reads.forMember(null).target === 'replica-1');

      const before = await replicaReads(a);
      assert.deepEqual(await received(a, y.token), [x.id]);
      assert.equal(await replicaReads(a), before + 1, 'the received list was read on the replica');

      await onReplica.query('SELECT pg_wal_replay_pause()');
      try {
        // z writes through process a while the replica stands still.
        await call(a, 'POST', `/user/${y.id}/connection/request/`, z.token);
        const primaryBefore = await primaryReads(b);
        // z's next reads, in either process, show z's request: they go to the primary.
        assert.deepEqual(await sent(a, z.token), [y.id]);
        assert.deepEqual(await sent(b, z.token), [y.id]);
        const status = await call(b, 'GET', `/user/${y.id}/connection_status/`, z.token);
        assert.equal(status.connection_status, 'sent_connection_request');
        assert.ok((await primaryReads(b)) >= primaryBefore + 2, 'process b read z’s pages on the primary');

        // y did not write: y's list comes from the replica, as it was before z's request.
        const replicaBefore = await replicaReads(b);
        assert.deepEqual(await received(b, y.token), [x.id]);
        assert.equal(await replicaReads(b), replicaBefore + 1);
        // The primary has the request all the same.
        const { rows } = await onPrimary.query(
          'SELECT count(*)::int AS n FROM connection_requests WHERE to_user_id = $1 AND rejected IS NULL',
          [y.id],
        );
        assert.equal(rows[0].n, 2);
      } finally {
        await onReplica.query('SELECT pg_wal_replay_resume()');
      }

      // Replay resumed: y sees both requests, read on the replica.
      await caughtUp();
      await until('process b uses the replica for z again', () => b.reads.forMember(z.id).target === 'replica-1');
      assert.deepEqual((await received(b, y.token)).sort(), [x.id, z.id].sort());
      assert.deepEqual(await sent(b, z.token), [y.id]);
    });

    test("a profile change is the writer's at once; others see it once replayed", async () => {
      const [x, y] = [await insertMember(a.handle.db), await insertMember(a.handle.db)];
      await caughtUp();
      await onReplica.query('SELECT pg_wal_replay_pause()');
      try {
        await call(a, 'PATCH', `/user/${x.id}/`, x.token, { location: 'Lisbon' });
        assert.equal((await call(b, 'GET', '/user/me/', x.token)).location, 'Lisbon');
        assert.equal((await call(a, 'GET', `/user/${x.id}/`, x.token)).location, 'Lisbon');
        assert.equal((await call(b, 'GET', `/user/${x.id}/`, y.token)).location, '', 'y reads the replica');
      } finally {
        await onReplica.query('SELECT pg_wal_replay_resume()');
      }
      await caughtUp();
      await until(
        'y reads the change',
        async () => (await call(b, 'GET', `/user/${x.id}/`, y.token)).location === 'Lisbon',
      );
    });

    test('a stopped replica: reads fall back to the primary without errors; restarted, it is used again', async () => {
      const [x, y] = [await insertMember(a.handle.db), await insertMember(a.handle.db)];
      await call(a, 'POST', `/user/${y.id}/connection/request/`, x.token);
      await caughtUp();
      await until('process a uses the replica', () => a.reads.forMember(y.id).target === 'replica-1');

      await replica.stop('fast');
      const primaryBefore = await primaryReads(a);
      // The first read may still be sent to the replica (not yet polled as down): it is answered all the same.
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await received(a, y.token), [x.id]);
        assert.deepEqual((await call(a, 'GET', `/user/${x.id}/connections/`, y.token)).results, []);
      }
      assert.ok((await primaryReads(a)) >= primaryBefore + 9, 'the primary answered the reads');
      await until(
        'the replica is reported down',
        async () => (await metric(a, 'kith_db_replica_up', 'replica="replica-1"')) === 0,
      );

      await replica.start();
      onReplica = await connect(replica.url);
      await until('the replica is used again', () => a.reads.forMember(y.id).target === 'replica-1');
      const replicaBefore = await replicaReads(a);
      assert.deepEqual(await received(a, y.token), [x.id]);
      assert.equal(await replicaReads(a), replicaBefore + 1);
      assert.equal(await metric(a, 'kith_db_replica_up', 'replica="replica-1"'), 1);
    });

    test('a replica further behind than the lag bound serves nobody', async () => {
      const strict = await startProcess(primary.url, [replica.url], 300);
      try {
        const [x, y] = [await insertMember(a.handle.db), await insertMember(a.handle.db)];
        await caughtUp();
        await until('the strict process uses the replica', () => strict.reads.forMember(y.id).target === 'replica-1');
        await onReplica.query('SELECT pg_wal_replay_pause()');
        try {
          await call(strict, 'POST', `/user/${y.id}/connection/request/`, x.token);
          // Once x's write is older than 300 ms, y's reads need it too: the paused replica is passed over.
          await until('y reads on the primary', () => strict.reads.forMember(y.id).target === 'primary', 5000);
          assert.deepEqual(await received(strict, y.token), [x.id]);
          // The other process allows two minutes: y still reads the replica's older list there.
          assert.deepEqual(await received(b, y.token), []);
        } finally {
          await onReplica.query('SELECT pg_wal_replay_resume()');
        }
        await caughtUp();
        await until('the replica serves again', () => strict.reads.forMember(y.id).target === 'replica-1');
      } finally {
        await stopProcess(strict);
      }
    });

    test('a URL that names no standby of this primary is never used', async () => {
      const wrong = await ReadRouter.open(a.handle, [primary.url], { poolSize: 1, pollMs: 20 });
      try {
        // Polled many times over: the primary answers pg_is_in_recovery() = false.
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(wrong.replicaUp('replica-1'), false);
        assert.equal(wrong.forMember(null).target, 'primary');
      } finally {
        await wrong.close();
      }
    });
  });
}
