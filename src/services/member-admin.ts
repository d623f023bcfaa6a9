import type { Database } from '../db/database.js';
import { countUnseen } from '../db/repositories/notifications.js';
import type { MemberRef } from '../db/repositories/users.js';
import * as users from '../db/repositories/users.js';
import type { UserRow } from '../db/schema.js';
import { invalid, invalidFields, notFound } from '../domain/errors.js';
import type { Role } from '../domain/users.js';
import { hashPassword, passwordProblem } from './users.js';

/**
 * Member administration for operators (the `kith user` commands): every member, inactive ones
 * included, named by id or username. Each change runs in one transaction through the users
 * repository, which stores the member's list JSON with the row.
 */

export type { MemberRef };

/** A member without secrets. */
export type Member = Omit<UserRow, 'password_hash'>;

/** The outcome of a change: the member after it, and whether anything changed. */
export interface Changed {
  user: Member;
  changed: boolean;
}

const describe = (ref: MemberRef) => ('id' in ref ? `id ${ref.id}` : `username "${ref.username}"`);

const withoutSecrets = ({ password_hash, ...user }: UserRow): Member => user;

const isActiveAdmin = (user: Pick<UserRow, 'role' | 'is_active'>) => user.is_active && user.role === 'admin';

/** Members by id, inactive ones included; `search` matches the username or real name (case-insensitive). */
export function listMembers(db: Database, query: { search?: string | undefined; limit: number; offset: number }) {
  return users.listMembers(db, query);
}

/** A member (inactive included) and their unread notifications; a 404 naming the id or username otherwise. */
export async function showMember(db: Database, ref: MemberRef) {
  const user = await users.findMember(db, ref);
  if (!user) throw notFound(`No user with ${describe(ref)}.`);
  return { user: withoutSecrets(user), unseenNotifications: await countUnseen(db, user.id) };
}

/**
 * Changes a member's role or active flag. The last active administrator can neither be deactivated
 * nor lose the admin role: the community would have nobody left to administer it over the API.
 */
async function changeAccount(
  db: Database,
  ref: MemberRef,
  patch: { is_active?: boolean; role?: Role | null },
): Promise<Changed> {
  return db.transaction().execute(async (tx) => {
    // The administrators first, then the member: every such change locks in this order.
    const admins = await users.lockActiveAdmins(tx);
    const user = await users.findMember(tx, ref, { lock: true });
    if (!user) throw notFound(`No user with ${describe(ref)}.`);
    const after = { ...user, ...patch };
    if (after.is_active === user.is_active && after.role === user.role) {
      return { user: withoutSecrets(user), changed: false };
    }
    if (isActiveAdmin(user) && !isActiveAdmin(after) && admins.every((id) => id === user.id)) {
      throw invalid(`${user.username} (id ${user.id}) is the last active administrator; promote another member first.`);
    }
    return { user: withoutSecrets(await users.updateAccount(tx, user.id, patch)), changed: true };
  });
}

/** Deactivates or activates a member; a deactivated member's tokens stop working at their next request. */
export const setActive = (db: Database, ref: MemberRef, active: boolean) =>
  changeAccount(db, ref, { is_active: active });

/** Gives a member a role, or none (null). */
export const setRole = (db: Database, ref: MemberRef, role: Role | null) => changeAccount(db, ref, { role });

/** Sets a member's password after the SelfCommunity password rule (a 400 naming it otherwise). */
export async function setPassword(db: Database, ref: MemberRef, password: string): Promise<Member> {
  const problem = passwordProblem(password);
  if (problem) throw invalidFields({ password: [problem] });
  const passwordHash = await hashPassword(password);
  return db.transaction().execute(async (tx) => {
    const user = await users.findMember(tx, ref, { lock: true });
    if (!user) throw notFound(`No user with ${describe(ref)}.`);
    return withoutSecrets(await users.updateAccount(tx, user.id, { password_hash: passwordHash }));
  });
}
