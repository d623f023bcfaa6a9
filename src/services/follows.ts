import type { Database } from '../db/database.js';
import { lockPair } from '../db/repositories/connections.js';
import * as repo from '../db/repositories/follows.js';
import { findUserWithStatus } from '../db/repositories/users.js';
import { AppError, notFound } from '../domain/errors.js';
import { type FollowStatus, planFollow } from '../domain/follow-state.js';
import { executePlan } from './effects.js';

const missingUser = () => notFound('User not found.');

/**
 * Follows `them`, or unfollows them when `me` already does (the contract's toggle), in one
 * transaction: both users' rows locked in id order (the lock order of every pair change), the
 * follow plan executed (the row, both counters, the event and its notification).
 */
export async function toggleFollow(db: Database, me: number, them: number): Promise<FollowStatus> {
  if (me === them) throw new AppError(400, 'self_connection', 'You cannot do this with yourself.');
  return db.transaction().execute(async (tx) => {
    const active = await lockPair(tx, me, them);
    if (!active.has(them)) throw missingUser();
    const state = (await repo.isFollowing(tx, me, them)) ? 'following' : 'none';
    const decided = planFollow(state, 'follow', { me, them });
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    await executePlan(tx, decided.effects, { me, them, requestId: undefined });
    return decided.status;
  });
}

/** Whether `a` follows `b`; 404 when `b` is unknown or inactive. */
export async function follows(db: Database, a: number, b: number): Promise<boolean> {
  if (await repo.isFollowing(db, a, b)) return true;
  if (!(await findUserWithStatus(db, null, b, 'follow'))) throw missingUser();
  return false;
}

/** Whether `b` follows `a`; 404 when `b` is unknown or inactive. */
export async function followedBy(db: Database, a: number, b: number): Promise<boolean> {
  if (await repo.isFollowing(db, b, a)) return true;
  if (!(await findUserWithStatus(db, null, b, 'follow'))) throw missingUser();
  return false;
}
