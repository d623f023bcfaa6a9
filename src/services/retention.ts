import type { RetentionConfig } from '../config.js';
import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/retention.js';

const DAY_MS = 86_400_000;

/** Rows deleted per statement: each delete holds its locks briefly and writes a bounded amount of WAL. */
export const PRUNE_BATCH = 1000;
/** Batches per table per call, so one call ends in bounded time; the next call goes on. */
export const PRUNE_MAX_BATCHES = 20;

export interface Pruned {
  attempts: number;
  deliveries: number;
  notifications: number;
  events: number;
}

/**
 * Deletes the rows past their retention window, in batches: attempts, then finished deliveries, then
 * read notifications, then the events nothing refers to any more (in that order, so an event freed
 * by this call's deletes goes in the same call). A window of 0 days keeps that kind of row forever.
 */
export async function pruneExpired(
  db: Database,
  retention: RetentionConfig,
  now: Date,
  { batch = PRUNE_BATCH, maxBatches = PRUNE_MAX_BATCHES } = {},
): Promise<Pruned> {
  const cutoff = (days: number) => (days > 0 ? new Date(now.getTime() - days * DAY_MS) : undefined);
  const run = async (days: number, prune: (db: Database, before: Date, limit: number) => Promise<number>) => {
    const before = cutoff(days);
    if (!before) return 0;
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await prune(db, before, batch);
      total += n;
      if (n < batch) break;
    }
    return total;
  };
  return {
    attempts: await run(retention.deliveriesDays, repo.pruneAttempts),
    deliveries: await run(retention.deliveriesDays, repo.pruneDeliveries),
    notifications: await run(retention.notificationsDays, repo.pruneReadNotifications),
    events: await run(retention.eventsDays, repo.pruneEvents),
  };
}
