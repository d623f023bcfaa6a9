import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { signAccessToken } from '../../src/services/tokens.js';
import { PrivateCluster, postgresBinaries } from '../helpers/private-cluster.js';
import { Receiver } from '../helpers/receiver.js';
import { ServerProcess } from '../helpers/server-process.js';
import { SocketClient } from '../helpers/socket.js';
import { insertMember, JWT_SECRET, type ThrowawayDatabase, throwawayDatabase } from '../helpers/world.js';

// The embedded database cannot go away; these tests take PostgreSQL away from a real server process.

interface Answer {
  status: number | 'reset' | 'hang';
  code?: string;
  json: boolean;
  ms: number;
}

/** One request, timed; a reset connection or no answer within `limitMs` is an answer too (a bad one). */
async function ask(url: string, options: { token?: string; method?: string; limitMs?: number } = {}) {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method: options.method ?? 'GET',
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.method === 'POST' ? { body: '' } : {}),
      signal: AbortSignal.timeout(options.limitMs ?? 8000),
    });
    const json = res.headers.get('content-type')?.startsWith('application/json') ?? false;
    const text = await res.text();
    const body = (json ? JSON.parse(text) : {}) as { code?: string };
    const answer: Answer = { status: res.status, json, ms: performance.now() - started };
    if (body.code !== undefined) answer.code = body.code;
    return answer;
  } catch (error) {
    const hang = error instanceof Error && error.name === 'TimeoutError';
    return { status: hang ? 'hang' : 'reset', json: false, ms: performance.now() - started } as Answer;
  }
}

/** A new active member (straight into the database, as the test world does) and an access token. */
const member = (handle: DatabaseHandle) => insertMember(handle.db);

const requestConnection = (url: string, token: string, to: number) =>
  ask(`${url}/api/v2/user/${to}/connection/request/`, { token, method: 'POST' });

/** Polls until `check` is true; returns the milliseconds it took, or fails after `ms`. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The three LISTEN connections of the server (realtime, the tag cache, the webhook worker) are back and have subscribed. */
function listening(handle: DatabaseHandle, database: string) {
  return async () => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = ${database} AND application_name = 'kith-listen' AND state = 'idle' AND query <> ''`.execute(
      handle.db,
    );
    return rows[0]?.n === 3;
  };
}

/** Waits for the socket's next message about a connection request from `from`. */
async function nextRequestFrom(socket: SocketClient, from: number, ms: number) {
  const seen = socket.messages.length;
  await socket.waitFor(seen + 1, ms);
  const message = socket.messages.slice(seen).find((m) => m?.data?.request_user?.id === from);
  assert.ok(message, `a realtime message about the request of ${from}: ${JSON.stringify(socket.messages)}`);
}

/** Requests `paths` in a loop, a few at a time, while `during` runs; every answer, in order. */
async function underLoad(url: string, token: string, paths: string[], during: () => Promise<void>) {
  const answers: Answer[] = [];
  let loading = true;
  const loop = async (path: string) => {
    while (loading) answers.push(await ask(`${url}${path}`, { token, limitMs: 5000 }));
  };
  const loops = paths.map(loop);
  try {
    await during();
  } finally {
    loading = false;
    await Promise.all(loops);
  }
  return answers;
}

/** Every answer was a 200 or a 503 service_unavailable in JSON: no reset, no 500, no hang. */
function assertOnlyOkOrUnavailable(answers: Answer[]) {
  const bad = answers.filter(
    (a) => !(a.status === 200 || (a.status === 503 && a.json && a.code === 'service_unavailable')),
  );
  assert.deepEqual(bad, [], `of ${answers.length} answers`);
}

function assertUnavailable(answer: Answer, limitMs: number, what: string) {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.json, true, what);
  assert.equal(answer.code, 'service_unavailable', what);
  assert.ok(answer.ms < limitMs, `${what} answered in ${Math.round(answer.ms)} ms (limit ${limitMs})`);
}

const bin = postgresBinaries();

describe('a server whose PostgreSQL stops, starts again and freezes', {
  skip: bin ? false : 'no PostgreSQL server binaries in /usr/lib/postgresql/*/bin to run a private cluster',
}, () => {
  let cluster: PrivateCluster;
  let server: ServerProcess;
  let handle: DatabaseHandle;
  let receiver: Receiver;
  let bob: { id: number; token: string };
  let socket: SocketClient;

  before(async () => {
    cluster = await PrivateCluster.create(bin ?? '');
    server = await ServerProcess.start(cluster.url, {
      KITH_WEBHOOK_ALLOW_PRIVATE: 'true',
      // Short enough that a frozen database shows up within the test's patience.
      DATABASE_STATEMENT_TIMEOUT: '1500',
      DATABASE_CONNECT_TIMEOUT: '2000',
    });
    // The test's own connections carry another name, so they never count as the server's.
    handle = await openDatabase({ databaseUrl: `${cluster.url}?application_name=kith-test`, connectTimeoutMs: 2000 });
    receiver = await Receiver.start();
  });

  after(async () => {
    socket?.close();
    await receiver?.stop();
    await server?.stop();
    await handle?.close();
    await cluster?.destroy();
  });

  test('stopped: the process lives and answers 503 within 2.5 s; started again: API, realtime and webhooks resume', async () => {
    const alice = await member(handle);
    const carol = await member(handle);
    bob = await member(handle);
    const admin = await signAccessToken(JWT_SECRET, 1, 3600);
    const endpoint = await fetch(`${server.url}/api/v2/webhook/endpoint/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: receiver.url, events: [{ type: 'connection_request.created' }] }),
    });
    assert.equal(endpoint.status, 201);
    socket = await SocketClient.open(server.url, bob.token);
    assert.equal((await requestConnection(server.url, alice.token, bob.id)).status, 200);
    await nextRequestFrom(socket, alice.id, 10_000);
    await receiver.waitFor(1, 10_000);

    // Stopped while requests run: the connections in use are ended under their queries (57P01).
    const answers = await underLoad(server.url, alice.token, ['/api/v2/user/me/', `/api/v2/user/${bob.id}/`], () =>
      cluster.stop('fast'),
    );
    assertOnlyOkOrUnavailable(answers);
    for (const [what, answer] of [
      ['GET /me', await ask(`${server.url}/api/v2/user/me/`, { token: alice.token })],
      ['GET /me again', await ask(`${server.url}/api/v2/user/me/`, { token: alice.token })],
      ['a public read', await ask(`${server.url}/api/v2/user/${bob.id}/`)],
      ['a write', await requestConnection(server.url, carol.token, alice.id)],
      ['/readyz', await ask(`${server.url}/readyz`)],
    ] as const) {
      assertUnavailable(answer, 2500, what);
    }
    assert.ok(server.alive, `the server process died: ${server.stderr}`);

    await cluster.start();
    const back = await within(
      10_000,
      'GET /me answers 200 again',
      async () => (await ask(`${server.url}/api/v2/user/me/`, { token: alice.token })).status === 200,
    );
    assert.ok(back < 10_000);
    await within(15_000, 'the three LISTEN connections resubscribe', listening(handle, 'postgres'));

    // Made after the return: reaches the socket opened before the outage and the webhook receiver.
    assert.equal((await requestConnection(server.url, carol.token, bob.id)).status, 200);
    await nextRequestFrom(socket, carol.id, 10_000);
    await within(15_000, 'the webhook delivery made after the return arrives', async () =>
      receiver.received.some((r) => r.json?.data?.from_user?.id === carol.id),
    );
    assert.equal((await ask(`${server.url}/readyz`)).status, 200);
    assert.ok(server.alive);
  });

  test('frozen (connections accepted, nothing answers): 503 within the timeouts; thawed: 200 again', async () => {
    const me = () => ask(`${server.url}/api/v2/user/me/`, { token: bob.token, limitMs: 10_000 });
    // Fill the pool with open connections, which the freeze leaves hanging.
    for (const answer of await Promise.all([me(), me(), me(), me()])) assert.equal(answer.status, 200);

    await cluster.freeze();
    try {
      const answers = await Promise.all([me(), me(), me(), me(), ask(`${server.url}/readyz`)]);
      // Statement timeout 1.5 s + 0.5 s grace for open connections, connect timeout 2 s for new ones.
      for (const [i, answer] of answers.entries()) assertUnavailable(answer, 3000, `request ${i} while frozen`);
      assertUnavailable(await me(), 3000, 'a request after the first ones gave up');
      assert.ok(server.alive, `the server process died: ${server.stderr}`);
    } finally {
      await cluster.thaw();
    }
    await within(10_000, 'GET /me answers 200 after the thaw', async () => (await me()).status === 200);
  });
});

const sharedUrl = process.env.DATABASE_URL;

describe('pg_terminate_backend of every connection of a server under load', {
  skip: sharedUrl ? false : 'needs DATABASE_URL: the embedded database has no backends to terminate',
}, () => {
  let database: ThrowawayDatabase;
  let admin: pg.Client;
  let server: ServerProcess;
  let handle: DatabaseHandle;

  before(async () => {
    database = await throwawayDatabase(sharedUrl ?? '', 'kith_outage');
    admin = new pg.Client({ connectionString: sharedUrl });
    await admin.connect();
    server = await ServerProcess.start(database.url);
    const url = new URL(database.url);
    url.searchParams.set('application_name', 'kith-test');
    handle = await openDatabase({ databaseUrl: url.toString(), connectTimeoutMs: 2000 });
  });

  after(async () => {
    await server?.stop();
    await handle?.close();
    await database?.drop();
    await admin?.end();
  });

  test('the process lives, every answer is 200 or 503 JSON, and everything works afterwards', async () => {
    const alice = await member(handle);
    const bob = await member(handle);
    const socket = await SocketClient.open(server.url, bob.token);
    try {
      let terminated = 0;
      const paths = ['/api/v2/user/me/', '/api/v2/user/me/', `/api/v2/user/${bob.id}/`];
      const answers = await underLoad(server.url, alice.token, paths, async () => {
        for (let round = 0; round < 5; round++) {
          await new Promise((r) => setTimeout(r, 300));
          const { rowCount } = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name IN ('kith', 'kith-listen')`,
            [database.name],
          );
          terminated += rowCount ?? 0;
        }
        await new Promise((r) => setTimeout(r, 500));
      });

      assert.ok(server.alive, `the server process died: ${server.stderr}`);
      assert.ok(terminated >= 5, `terminated ${terminated} backends`);
      assertOnlyOkOrUnavailable(answers);
      assert.ok(answers.filter((a) => a.status === 200).length > 10, 'the load was served');

      await within(10_000, 'GET /me answers 200', async () => {
        return (await ask(`${server.url}/api/v2/user/me/`, { token: alice.token })).status === 200;
      });
      await within(15_000, 'the three LISTEN connections resubscribe', listening(handle, database.name));
      assert.equal((await requestConnection(server.url, alice.token, bob.id)).status, 200);
      await nextRequestFrom(socket, alice.id, 10_000);
    } finally {
      socket.close();
    }
  });
});
