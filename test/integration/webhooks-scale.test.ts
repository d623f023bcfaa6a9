import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { openAndPrepare } from '../../src/bootstrap.js';
import type { Database } from '../../src/db/database.js';
import { insertEvent, queueDeliveries } from '../../src/db/repositories/events.js';
import { signAccessToken } from '../../src/services/tokens.js';
import { createEndpoint } from '../../src/services/webhooks.js';
import { Receiver } from '../helpers/receiver.js';
import { embeddedEnv, ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp.js';
import { JWT_SECRET, openTestDatabase, TEST_WEBHOOKS } from '../helpers/world.js';

// Webhooks under faults, with real processes: server processes with their in-process workers share
// the queue; the receiver is down at first; the processes are SIGKILLed mid-delivery, one after
// another, and started again. Every event must arrive at least once, with a valid signature, and a
// kill may cost at most one duplicate per endpoint slot of the killed process.
//
// The size is bounded for CI (2,000 events; 4 kills on PostgreSQL, 2 on the embedded database); `npm run test:webhooks-scale` runs a bigger one
// (WEBHOOK_SCALE_EVENTS, WEBHOOK_SCALE_KILLS). Two processes need PostgreSQL (the embedded database
// allows one process): on the embedded database, one server process is killed and started again.

// Each kill costs a process start (tens of seconds on the embedded database of a busy 2-core machine).
const EVENTS = Number(process.env.WEBHOOK_SCALE_EVENTS ?? 2000);
const KILLS = Number(process.env.WEBHOOK_SCALE_KILLS ?? (process.env.DATABASE_URL ? 4 : 2));
const PER_ENDPOINT = 1;

const ENV = {
  KITH_WEBHOOK_ALLOW_PRIVATE: 'true',
  // Retries every second while the receiver is down; the lease (6 × the 3 s timeout) is what the rows a
  // killed process held wait for.
  KITH_WEBHOOK_RETRY_SCHEDULE: Array(50).fill('1').join(','),
  KITH_WEBHOOK_TIMEOUT: '3',
  KITH_WEBHOOK_ENDPOINT_CONCURRENCY: String(PER_ENDPOINT),
  LOG_LEVEL: 'error',
  JWT_SECRET,
};

interface Setup {
  endpointId: number;
  secret: string;
  eventIds: number[];
  adminToken: string;
  processes: number;
  spawn: () => Promise<ServerProcess>;
  close: () => Promise<void>;
}

/** The events, through the outbox's own queries (the API would take minutes on this machine). */
async function queueEvents(db: Database, from: number, to: number) {
  const ids: number[] = [];
  for (let i = 0; i < EVENTS; i += 100) {
    const batch = await db.transaction().execute(async (tx) => {
      const made: number[] = [];
      for (let j = i; j < Math.min(EVENTS, i + 100); j++) {
        const data = { n: j, from_user: { id: from }, to_user: { id: to } };
        const id = await insertEvent(tx, { type: 'connection_request.created', from, to, data });
        assert.equal(await queueDeliveries(tx, id, 'connection_request.created'), 1);
        made.push(Number(id));
      }
      return made;
    });
    ids.push(...batch);
  }
  return ids;
}

/**
 * PostgreSQL: a throwaway database shared by two server processes. The embedded database: its files
 * in a directory of their own, prepared here, then served by one process at a time.
 */
async function setUp(target: string): Promise<Setup> {
  const shared = process.env.DATABASE_URL;
  const dataDir = shared ? '' : tempDir('kith-scale-');
  const handle = shared
    ? await openTestDatabase()
    : await openAndPrepare({ databaseUrl: undefined, dataDir, adminPassword: 'Admin-pass-1' });
  const config = { ...TEST_WEBHOOKS, allowPrivate: true };
  const endpoint = await createEndpoint(handle.db, config, {
    target,
    events: [{ type: 'connection_request.created' }],
  });
  const admin = await handle.db
    .selectFrom('users')
    .select('id')
    .where('username', '=', 'admin')
    .executeTakeFirstOrThrow();
  const eventIds = await queueEvents(handle.db, admin.id, admin.id);
  const databaseUrl = (handle as { databaseUrl?: string }).databaseUrl;
  if (!databaseUrl) await handle.close();
  return {
    endpointId: endpoint.id,
    secret: endpoint.signing_secret,
    eventIds,
    adminToken: await signAccessToken(JWT_SECRET, admin.id, 3600),
    processes: databaseUrl ? 2 : 1,
    spawn: () =>
      databaseUrl
        ? ServerProcess.start(databaseUrl, ENV, { readyWithinMs: 120_000 })
        : ServerProcess.spawn({ env: { ...embeddedEnv(dataDir, ENV), JWT_SECRET }, readyWithinMs: 120_000 }),
    close: async () => {
      if (databaseUrl) await handle.close();
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The receiver's side of the signature scheme, from the reference page. */
function signatureValid(header: unknown, secret: string, body: string) {
  if (typeof header !== 'string') return false;
  const elements = header.split(',').map((e) => e.split('=') as [string, string]);
  const t = elements.find(([k]) => k === 't')?.[1];
  if (!t || !/^\d+$/.test(t)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return elements
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v.length === 64 && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

test(`${EVENTS} events, the receiver down at first, ${KILLS} SIGKILLs: all delivered, signed, duplicates ≤ kills`, {
  timeout: 600_000,
}, async (t) => {
  const receiver = await Receiver.start();
  const port = receiver.port;
  await receiver.stop(); // down: connections are refused
  const setup = await setUp(receiver.url);
  t.after(() => setup.close());
  const servers: ServerProcess[] = [];
  t.after(async () => {
    for (const s of servers) await s.stop('SIGKILL');
  });
  for (let i = 0; i < setup.processes; i++) servers.push(await setup.spawn());

  // Down for the first part: the processes try, fail and retry.
  const failedTries = async () => {
    const res = await fetch(`${servers[0]!.url}/api/v2/webhook/endpoint/${setup.endpointId}/attempt/?limit=1`, {
      headers: { authorization: `Bearer ${setup.adminToken}` },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { count: number }).count;
  };
  const deadline = Date.now() + 60_000;
  while ((await failedTries()) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.ok((await failedTries()) >= 20, 'deliveries failed while the receiver was down');

  const back = await Receiver.start(port);
  t.after(() => back.stop());
  const unique = () => new Set(back.received.map((r) => r.json.event_id)).size;
  let kills = 0;
  for (let k = 1; k <= KILLS; k++) {
    // Kill while deliveries flow: each time a further share of the events has arrived.
    await back.waitFor(Math.floor((EVENTS * k) / (KILLS + 2)), 120_000);
    const slot = k % servers.length;
    await servers[slot]!.stop('SIGKILL');
    kills++;
    servers[slot] = await setup.spawn();
  }
  const end = Date.now() + 180_000;
  while (unique() < EVENTS && Date.now() < end) await new Promise((r) => setTimeout(r, 200));

  const received = back.received;
  const arrived = new Set(received.map((r) => r.json.event_id as number));
  const missing = setup.eventIds.filter((id) => !arrived.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} events never arrived`);
  const unsigned = received.filter((r) => !signatureValid(r.headers['selfcommunity-signature'], setup.secret, r.body));
  assert.equal(unsigned.length, 0, 'every delivery carries a valid signature');
  const duplicates = received.length - arrived.size;
  assert.ok(
    duplicates <= kills * PER_ENDPOINT,
    `${duplicates} duplicates for ${kills} kills (at most ${PER_ENDPOINT} in flight per endpoint and process)`,
  );
  t.diagnostic(`${EVENTS} events, ${setup.processes} process(es), ${kills} kills, ${duplicates} duplicates`);
});
