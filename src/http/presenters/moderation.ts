import type { Static } from 'typebox';
import { type GraphMode, presentUser } from '../../contracts/user.js';
import { userStatus } from '../../contracts/webhook-user.js';
import type { Member } from '../../services/member-admin.js';
import type { ModerationUser } from '../schemas/moderation.js';

/** A member as moderators see them: the User, their account and their block. */
export function presentModerationUser(row: Member, mode: GraphMode): Static<typeof ModerationUser> {
  return {
    ...presentUser(row, null, mode),
    email: row.email,
    email_isvalid: row.email !== null,
    role: row.role,
    status: userStatus(row),
    blocked_at: row.blocked_at?.toISOString() ?? null,
    days_blocked: row.days_blocked,
    expire_at: row.block_expires_at?.toISOString() ?? null,
  };
}
