import type { Database } from '../db/database.js';
import { ping } from '../db/repositories/health.js';

/** Resolves when the database answers within `timeoutMs`; rejects otherwise. */
export async function checkDatabase(db: Database, timeoutMs = 2000): Promise<void> {
  await Promise.race([
    ping(db),
    new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), timeoutMs).unref()),
  ]);
}
