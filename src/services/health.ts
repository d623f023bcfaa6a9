import type { Database } from '../db/database.js';
import { ping } from '../db/repositories/health.js';
import { type DeliveryQueue, deliveryQueue } from '../db/repositories/webhooks.js';

/** Resolves when the database answers within `timeoutMs`; rejects otherwise. */
export async function checkDatabase(db: Database, timeoutMs = 2000): Promise<void> {
  await Promise.race([
    ping(db),
    new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), timeoutMs).unref()),
  ]);
}

/** The webhook queue for /metrics, or a rejection after `timeoutMs` (a scrape must not hang on the database). */
export async function readWebhookQueue(db: Database, timeoutMs = 2000): Promise<DeliveryQueue> {
  return Promise.race([
    deliveryQueue(db),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('database timeout')), timeoutMs).unref()),
  ]);
}
