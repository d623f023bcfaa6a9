import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/follows.js';
import { findUserWithStatus } from '../db/repositories/users.js';
import { AppError, notFound } from '../domain/errors.js';
import { type FollowStatus, planFollow } from '../domain/follow-state.js';
import { type Admit, movePair } from './connections.js';
import { executePlan } from './effects.js';

const missingUser = () => notFound('User not found.');

/**
 * Follows `them`, or unfollows them when `me` already does (the contract's toggle), as every move of
 * a pair (`movePair`): the pair loaded, the follow plan written in one statement that locks both
 * members in id order (the row, both counters, the event and its notification).
 */
export function toggleFollow(db: Database, me: number, them: number, admit: Admit): Promise<FollowStatus> {
  return movePair(db, me, them, admit, async (executor, locked) => {
    const decided = planFollow(locked.follows.byMe ? 'following' : 'none', 'follow', { me, them });
    if (!decided.ok) throw new AppError(400, 'invalid_connection_action', decided.reason);
    await executePlan(executor, decided.effects, { me, them, locked });
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
