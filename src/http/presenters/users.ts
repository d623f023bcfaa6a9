import type { Static } from 'typebox';
import type { UserRow } from '../../db/schema.js';
import type { VisibleCounters } from '../../services/users.js';
import type { Counters, SignupResult } from '../schemas/users.js';

/** The SSO signup answer: the new user's identifiers and the tags the request carried. */
export function presentSignup(user: UserRow, tags: number[] | null): Static<typeof SignupResult> {
  return {
    id: user.id,
    ext_id: user.ext_id,
    username: user.username,
    email: user.email,
    role: user.role,
    tags,
    avatar: user.avatar,
  };
}

/** A member's counters: the ones the viewer may see, and null for content kith does not have. */
export function presentCounters(visible: VisibleCounters): Static<typeof Counters> {
  return {
    discussions: null,
    posts: null,
    statuses: null,
    polls: null,
    followings: null,
    followers: null,
    categories: null,
    ...visible,
  };
}
