import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import { log } from '../shell.js';
import type { CaseWorld, LoadCase } from './case.js';

type Pair = { a: number; b: number };

/** What case 7 must leave as it found it, and the history rows it may add (counted, not compared). */
interface Fingerprint {
  connections: number;
  requests: number;
  /** Σ over all members of each counter. */
  connectionsCount: number;
  sentCount: number;
  receivedCount: number;
  /** Σ of the per-day pending counts (trigger-kept, read by deep pages). */
  pendingByDay: number;
  /** md5 of the counters and stored JSON of every member in the fresh pairs. */
  members: string;
  events: number;
  notifications: number;
  deliveries: number;
  /** The newest event and notification ids: what the case adds comes after them. */
  lastEvent: number;
  lastNotification: number;
}

const COMPARED = [
  'connections',
  'requests',
  'connectionsCount',
  'sentCount',
  'receivedCount',
  'pendingByDay',
  'members',
  'events',
  'notifications',
  'deliveries',
] as const;

async function fingerprint(db: Kysely<DB>, members: number[]): Promise<Fingerprint> {
  const { rows } = await sql<Fingerprint>`
    SELECT (SELECT count(*) FROM connections)::int AS connections,
           (SELECT count(*) FROM connection_requests)::int AS requests,
           s.connections_count::int AS "connectionsCount", s.sent::int AS "sentCount",
           s.received::int AS "receivedCount",
           (SELECT coalesce(sum(pending), 0) FROM connection_request_days)::int AS "pendingByDay",
           (SELECT coalesce(md5(string_agg(
                      concat_ws(':', u.id, u.connections_count, u.requests_sent_count, u.requests_received_count,
                                j.head, j.tail), ',' ORDER BY u.id)), '')
            FROM users u LEFT JOIN user_json j ON j.user_id = u.id WHERE u.id = ANY(${members})) AS members,
           (SELECT count(*) FROM events)::int AS events,
           (SELECT count(*) FROM notifications)::int AS notifications,
           (SELECT count(*) FROM webhook_deliveries)::int AS deliveries,
           (SELECT coalesce(max(id), 0) FROM events)::int AS "lastEvent",
           (SELECT coalesce(max(id), 0) FROM notifications)::int AS "lastNotification"
    FROM (SELECT sum(connections_count) AS connections_count, sum(requests_sent_count) AS sent,
                 sum(requests_received_count) AS received FROM users) s`.execute(db);
  return rows[0]!;
}

/** The used pairs that still have a connection or a request, in either direction. */
async function leftovers(db: Kysely<DB>, pairs: Pair[]) {
  const { rows } = await sql<{ a: number; b: number; connected: boolean; requester: number | null }>`
    SELECT p.a, p.b,
           EXISTS (SELECT 1 FROM connections c WHERE c.user_id = p.a AND c.friend_id = p.b) AS connected,
           (SELECT r.from_user_id FROM connection_requests r
            WHERE (r.from_user_id, r.to_user_id) IN ((p.a, p.b), (p.b, p.a)) LIMIT 1) AS requester
    FROM unnest(${pairs.map((p) => p.a)}::int[], ${pairs.map((p) => p.b)}::int[]) AS p(a, b)`.execute(db);
  return rows.filter((r) => r.connected || r.requester !== null);
}

/**
 * The history the case and its undo wrote, deleted: events, their deliveries and notifications
 * (none is a derived value, no case reads them), so the next run finds these tables as this one did.
 */
async function forgetHistory(db: Kysely<DB>, before: Fingerprint) {
  await sql`
    WITH d AS (DELETE FROM webhook_deliveries WHERE event_id > ${before.lastEvent}),
         n AS (DELETE FROM notifications WHERE id > ${before.lastNotification} OR event_id > ${before.lastEvent})
    SELECT 1`.execute(db);
  await sql`DELETE FROM events WHERE id > ${before.lastEvent}`.execute(db);
}

/**
 * Case 7, the write mix: A requests B, then B accepts, each pair fresh. Afterwards every used pair
 * is taken back to "no relation" through the API, as its members (remove, or cancel_request for a
 * request the run left waiting), so the server's own code puts counters, per-day counts and stored
 * JSON back; then the history the case wrote (events, deliveries, notifications) is deleted, and the
 * next run finds the same dataset.
 */
export function writeMix({ dataset, tokens, base, connections, db }: CaseWorld): LoadCase {
  const { freshPairs } = dataset;
  const members = [...new Set(freshPairs.flatMap((p) => [p.a, p.b]))];
  let used = 0;
  let before: Fingerprint | undefined;

  const post = async (actor: number, target: number, action: 'remove' | 'cancel_request') => {
    const response = await fetch(`${base}/api/v2/user/${target}/connection/${action}/`, {
      method: 'POST',
      headers: { authorization: tokens.get(actor)! },
    });
    await response.arrayBuffer();
    return response.ok;
  };

  /** Undoes the used pairs as their members would, `connections` at a time; returns what it did. */
  const undo = async (pairs: Pair[]) => {
    const done = { removed: 0, cancelled: 0, failed: 0 };
    // An accept autocannon sent last may still be committing: leftovers are re-read until none remain.
    await new Promise((r) => setTimeout(r, 500));
    for (let pass = 0; pass < 3; pass++) {
      const queue = await leftovers(db, pairs);
      if (queue.length === 0) break;
      const worker = async () => {
        for (let row = queue.pop(); row; row = queue.pop()) {
          const ok = row.connected
            ? await post(row.a, row.b, 'remove')
            : await post(row.requester!, row.requester === row.a ? row.b : row.a, 'cancel_request');
          if (!ok) done.failed += 1;
          else if (row.connected) done.removed += 1;
          else done.cancelled += 1;
        }
      };
      await Promise.all(Array.from({ length: connections }, worker));
    }
    return done;
  };

  return {
    id: '7',
    title: 'write mix: A requests B, then B accepts (distinct pairs)',
    setup: async () => {
      before = await fingerprint(db, members);
    },
    requests: () => [
      {
        setupRequest: (req, context: any) => {
          const pair = freshPairs[used++ % freshPairs.length]!;
          context.pair = pair;
          return {
            ...req,
            method: 'POST',
            path: `/api/v2/user/${pair.b}/connection/request/`,
            headers: { authorization: tokens.get(pair.a)!, 'content-type': 'application/json' },
            body: '',
          };
        },
      },
      {
        setupRequest: (req, context: any) => ({
          ...req,
          method: 'POST',
          path: `/api/v2/user/${context.pair.a}/connection/accept/`,
          headers: { authorization: tokens.get(context.pair.b)!, 'content-type': 'application/json' },
          body: '',
        }),
      },
    ],
    finish: async () => {
      const usedPairs = freshPairs.slice(0, Math.min(used, freshPairs.length));
      log(`case 7: undoing ${usedPairs.length} pairs through the API`);
      const done = await undo(usedPairs);
      const left = (await leftovers(db, usedPairs)).length;
      const written = await fingerprint(db, members);
      await forgetHistory(db, before!);
      const after = await fingerprint(db, members);
      const changed = COMPARED.filter((k) => before![k] !== after[k]);
      const restored = changed.length === 0 && left === 0 && done.failed === 0;
      const state = restored
        ? `yes (${after.connections} connection rows, ${after.requests} requests, counters Σ ${after.connectionsCount} connections / ${after.sentCount} sent / ${after.receivedCount} received, per-day pending Σ ${after.pendingByDay}, the ${members.length} members' counters and stored JSON unchanged, ${after.events} events, ${after.notifications} notifications, ${after.deliveries} deliveries)`
        : `NO (${[...changed.map((k) => `${k} ${before![k]} → ${after[k]}`), `${left} pairs left`, `${done.failed} undo calls failed`].join(', ')})`;
      if (!restored) log(`case 7: dataset NOT restored: ${state}`);
      const note = [
        `${usedPairs.length} of ${freshPairs.length} fresh pairs used${used > freshPairs.length ? ' (then reused: idempotent)' : ''}`,
        `undone through the API: ${done.removed} connections removed, ${done.cancelled} requests cancelled (then the ${written.events - before!.events} events and ${written.notifications - before!.notifications} notifications written deleted)`,
        `dataset restored: ${state}`,
      ].join('; ');
      return { note, restored };
    },
  };
}
