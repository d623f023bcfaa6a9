import { hash, verify } from '@node-rs/argon2';
import { type GraphMode, modeOf } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import { countUnseen } from '../db/repositories/notifications.js';
import type { Viewer } from '../db/repositories/users.js';
import * as users from '../db/repositories/users.js';
import type { NewUser, UserRow } from '../db/schema.js';
import { forbidden, invalidFields, notFound } from '../domain/errors.js';
import { type Ordering, parseOrdering } from '../domain/ordering.js';
import { isSelfOrAdmin, type UserOrderField } from '../domain/users.js';
import { recordUserEvent } from '../events/outbox.js';

/** The SelfCommunity password rule: 8 to 128 characters, at least 3 of the 4 kinds. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 8 || password.length > 128) return 'The password must be 8 to 128 characters long.';
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (kinds < 3) {
    return 'The password must contain at least 3 of: lower case letters, upper case letters, numbers, special characters.';
  }
  return undefined;
}

export const hashPassword = (password: string) => hash(password);

export async function checkPassword(user: Pick<UserRow, 'password_hash'>, password: string): Promise<boolean> {
  if (!user.password_hash) return false;
  try {
    return await verify(user.password_hash, password);
  } catch {
    return false;
  }
}

export interface CreateUserInput {
  username: string;
  email?: string | null | undefined;
  ext_id?: string | null | undefined;
  password?: string | undefined;
  role?: UserRow['role'] | undefined;
  real_name?: string | undefined;
  avatar?: string | null | undefined;
}

const UNIQUE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email already exists.',
  ext_id: 'A user with that ext_id already exists.',
} as const;

const RESERVED_USERNAME = 'Usernames of the form deleted_<number> are kept for deleted members.';

/** Creates a user after the checks of the signup pages; duplicate names are a 400 naming the field. */
export async function createUser(db: Database, input: CreateUserInput): Promise<UserRow> {
  const fieldErrors: Record<string, string[]> = {};
  if (input.password !== undefined) {
    const problem = passwordProblem(input.password);
    if (problem) fieldErrors.password = [problem];
  }
  const taken = await users.findTaken(db, input);
  for (const field of taken) fieldErrors[field] = [UNIQUE_MESSAGES[field]];
  // A deleted member's tombstone takes this name (member-admin.ts deleteMember): nobody else may hold it.
  if (/^deleted_\d+$/i.test(input.username)) fieldErrors.username = [RESERVED_USERNAME];
  if (Object.keys(fieldErrors).length > 0) throw invalidFields(fieldErrors);

  const row: NewUser = {
    username: input.username,
    email: input.email ?? null,
    ext_id: input.ext_id ?? null,
    role: input.role ?? null,
    password_hash: input.password !== undefined ? await hashPassword(input.password) : null,
    avatar: input.avatar ?? null,
    cover: null,
    date_of_birth: null,
    ...(input.real_name !== undefined ? { real_name: input.real_name } : {}),
  };
  try {
    return await db.transaction().execute(async (tx) => {
      const user = await users.insertUser(tx, row);
      await recordUserEvent(tx, 'user.created', user, modeOf(await users.loadCommunity(tx)));
      return user;
    });
  } catch (error) {
    // Two signups racing for one name: the unique index decides, the loser gets the same 400.
    const constraint = uniqueViolation(error);
    if (constraint) {
      const field = constraint.includes('email') ? 'email' : constraint.includes('ext_id') ? 'ext_id' : 'username';
      throw invalidFields({ [field]: [UNIQUE_MESSAGES[field]] });
    }
    throw error;
  }
}

function uniqueViolation(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505') {
    return String((error as { constraint?: string }).constraint ?? (error as { message?: string }).message ?? '');
  }
  return undefined;
}

const missingUser = () => notFound('User not found.');

/** The signed-in member and how many of their notifications are unread. */
export async function getMe(db: Database, viewer: Viewer) {
  return { user: viewer, unseenNotifications: await countUnseen(db, viewer.id) };
}

/** The user list's filter, order and window, as the route reads them. */
export interface UserListQuery {
  search?: string | undefined;
  username?: string | undefined;
  ordering?: Ordering<UserOrderField> | undefined;
  limit: number;
  offset: number;
}

/** A page of active users, each with the viewer's connection status towards them. */
export async function listUsers(db: Database, viewerId: number, query: UserListQuery, mode: GraphMode) {
  return users.listUsers(db, viewerId, userListFilter(query), mode);
}

/** What the page `listUsers` would answer derives from: its total and its users' ids and graph versions. */
export async function listUserVersions(db: Database, query: UserListQuery) {
  return users.listUserVersions(db, userListFilter(query));
}

function userListFilter(query: UserListQuery): users.UserListFilter {
  return {
    search: query.search,
    username: query.username,
    ordering: parseOrdering(query.ordering ?? 'id'),
    limit: query.limit,
    offset: query.offset,
  };
}

/** The graph version of an active user (their profile, and any status towards them); 404 otherwise. */
export async function userVersion(db: Database, id: number): Promise<string> {
  const version = await users.findUserVersion(db, id);
  if (version === undefined) throw missingUser();
  return version;
}

/** An active user with the viewer's connection status towards them (none for anonymous viewers); 404 otherwise. */
export async function getUser(
  db: Database,
  viewerId: number | null,
  id: number,
  mode: GraphMode,
): Promise<users.UserWithStatus> {
  const user = await users.findUserWithStatus(db, viewerId, id, mode);
  if (!user) throw missingUser();
  return user;
}

/** The profile fields a member may change. */
export type ProfileChanges = Partial<
  Pick<
    NewUser,
    | 'real_name'
    | 'bio'
    | 'location'
    | 'location_lat_lng'
    | 'position_lat_lng'
    | 'date_of_birth'
    | 'description'
    | 'gender'
    | 'website'
  >
>;

/**
 * Changes a member's profile: the member themself or an admin (403 before 404), and only an active
 * member. The row and its stored list JSON change in one transaction.
 */
export async function updateProfile(db: Database, viewer: Viewer, id: number, changes: ProfileChanges) {
  if (!isSelfOrAdmin(viewer, id)) throw forbidden('You may only change your own profile.');
  return db.transaction().execute(async (tx) => {
    const existing = await users.findById(tx, id);
    if (!existing?.is_active) throw missingUser();
    const changed = await users.updateProfile(tx, id, changes);
    if (changed) await recordUserEvent(tx, 'user.updated', changed, modeOf(viewer.community));
    return getUser(tx, viewer.id, id, modeOf(viewer.community));
  });
}

/** The counters kith keeps, as far as the viewer may see them; the others are content kith does not have. */
export interface VisibleCounters {
  connections?: number;
  connection_requests_sent?: number;
  connection_requests_received?: number;
  followers?: number;
  followings?: number;
}

/**
 * A member's counters: in friendship mode everyone sees the connections, and only the member and
 * admins see the requests sent and received; in follow mode everyone sees the followers and
 * followings, and none of the friendship counters.
 */
export async function getCounters(
  db: Database,
  viewer: Viewer | null,
  community: { followEnabled: boolean } | null,
  id: number,
): Promise<VisibleCounters> {
  const user = await users.findById(db, id);
  if (!user?.is_active) throw missingUser();
  if (community?.followEnabled === true) return { followers: user.followers_count, followings: user.followings_count };
  if (!isSelfOrAdmin(viewer, user.id)) return { connections: user.connections_count };
  return {
    connections: user.connections_count,
    connection_requests_sent: user.requests_sent_count,
    connection_requests_received: user.requests_received_count,
  };
}
