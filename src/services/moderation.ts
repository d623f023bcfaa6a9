import type { Database } from '../db/database.js';
import * as users from '../db/repositories/users.js';
import { invalidFields } from '../domain/errors.js';
import { type Ordering, parseOrdering } from '../domain/ordering.js';
import { blockMember, deactivated, deleteMember, type Member, unblockMember } from './member-admin.js';

/**
 * The moderation of members as SelfCommunity's SDK calls it (`ModerationService`): the list of
 * members for moderators and one PATCH per member whose `status` says what becomes of them. The
 * reference pages have no moderation page: the SDK's types (`SCUserModerationType`,
 * `moderateASpecificUser`) are the contract.
 */

export const MODERATION_ORDER_FIELDS = ['date_joined', 'blocked_at', 'expire_at'] as const;
export type ModerationOrderField = (typeof MODERATION_ORDER_FIELDS)[number];

/** Members for moderators: every one but the deleted, blocked and deactivated ones included. */
export function listForModeration(
  db: Database,
  query: {
    search?: string | undefined;
    days_blocked?: 'days' | 'forever' | undefined;
    order_by?: Ordering<ModerationOrderField> | undefined;
    limit: number;
    offset: number;
  },
) {
  const { column, descending } = parseOrdering(query.order_by ?? '-date_joined');
  return users.listForModeration(db, {
    search: query.search,
    daysBlocked: query.days_blocked,
    ordering: { column: column === 'expire_at' ? 'block_expires_at' : column, descending },
    limit: query.limit,
    offset: query.offset,
  });
}

export interface Moderation {
  /** `a`: approved (lifts a block), `b`: blocked, `d`: deleted. */
  status: 'a' | 'b' | 'd';
  /** For `b`: `forever` (the default) or a number of days. */
  days_blocked?: string | undefined;
  /** For `d`: accepted for the SDK's sake; a deletion always leaves a tombstone (see the README). */
  hard?: number | undefined;
}

/**
 * Moderates a member as `by` (an administrator): blocks (`b`), unblocks (`a`; a member who is not
 * blocked stays as they are, but one deactivated by an operator is a 400 `member_deactivated`) or
 * deletes them (`d`; returns undefined). `days_blocked` goes only with `b`, `hard` only with `d`.
 */
export async function moderateMember(
  db: Database,
  id: number,
  by: number,
  moderation: Moderation,
): Promise<Member | undefined> {
  const { status, days_blocked, hard } = moderation;
  if (days_blocked !== undefined && status !== 'b') {
    throw invalidFields({ days_blocked: ['Only a block (status b) lasts a number of days.'] });
  }
  if (hard !== undefined && status !== 'd') throw invalidFields({ hard: ['Only a deletion (status d) is hard.'] });
  switch (status) {
    case 'b':
      return blockMember(
        db,
        { id },
        days_blocked === undefined || days_blocked === 'forever' ? undefined : Number(days_blocked),
        by,
      );
    case 'd':
      await deleteMember(db, { id }, by);
      return undefined;
    case 'a': {
      const { user } = await unblockMember(db, { id });
      if (!user.is_active) throw deactivated(user);
      return user;
    }
  }
}
