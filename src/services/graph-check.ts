import type { Database } from '../db/database.js';
import {
  findViolations,
  lockGraphForRepair,
  repairDerived,
  SQL_INVARIANTS,
} from '../db/repositories/graph-invariants.js';
import { findStaleUserJson } from '../db/repositories/user-json.js';

/** One invariant's outcome: how many rows break it, and the first of them. */
export interface InvariantReport {
  name: string;
  derived: boolean;
  description: string;
  violations: number;
  examples: Record<string, unknown>[];
}

export interface GraphCheck {
  invariants: InvariantReport[];
  /** Violations in all. */
  violations: number;
}

const USER_JSON = {
  name: 'user_json',
  derived: true,
  description: "each member's stored list JSON is what the renderer prints for their row now",
} as const;

/** The invariants `kith check` verifies, in the order it prints them. */
export const INVARIANT_NAMES: readonly string[] = [...SQL_INVARIANTS.map((i) => i.name), USER_JSON.name];

/**
 * Verifies every invariant of the stored graph in one snapshot (a repeatable-read, read-only
 * transaction), so writers that go on meanwhile cannot make it report a half-made change.
 * `limit` caps the examples per invariant, not the count.
 */
export async function checkGraph(db: Database, options: { limit?: number } = {}): Promise<GraphCheck> {
  const limit = options.limit ?? 10;
  const invariants = await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (tx) => {
      const reports: InvariantReport[] = [];
      for (const invariant of SQL_INVARIANTS) {
        const { total, rows } = await findViolations(tx, invariant, limit);
        const { name, derived, description } = invariant;
        reports.push({ name, derived, description, violations: total, examples: rows });
      }
      const stale = await findStaleUserJson(tx, { limit });
      reports.push({ ...USER_JSON, violations: stale.total, examples: stale.ids.map((user_id) => ({ user_id })) });
      return reports;
    });
  return { invariants, violations: invariants.reduce((sum, i) => sum + i.violations, 0) };
}

/**
 * Recomputes every derived value from the source rows in one transaction that keeps writers out:
 * counters and per-day counts set-based, orphaned derived rows removed, then the stored JSON of
 * every member whose JSON is stale (after the counters, which it shows). Source rows are never
 * changed. Returns how many rows each derived invariant changed.
 */
export async function repairGraph(db: Database): Promise<Record<string, number>> {
  return db.transaction().execute(async (tx) => {
    await lockGraphForRepair(tx);
    const changed = await repairDerived(tx);
    changed[USER_JSON.name] = (await findStaleUserJson(tx, { repair: true })).total;
    return changed;
  });
}
