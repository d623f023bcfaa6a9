import { sql } from 'kysely';
import { CHANNEL_NOTIFICATIONS, sessionsClosed } from '../contracts/channels.js';
import { modeOf } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import * as connections from '../db/repositories/connections.js';
import { notifyOnCommit } from '../db/repositories/events.js';
import { deleteHidesOf } from '../db/repositories/hides.js';
import { countUnseen, deleteNotificationsOf } from '../db/repositories/notifications.js';
import { lockPair } from '../db/repositories/pairs.js';
import { deleteRefreshTokensOf } from '../db/repositories/tokens.js';
import * as settings from '../db/repositories/user-settings.js';
import type { MemberRef } from '../db/repositories/users.js';
import * as users from '../db/repositories/users.js';
import type { UserRow } from '../db/schema.js';
import { mirror, type PairState, pairStateOf, plan } from '../domain/connection-state.js';
import { type Effect, withoutNotifications } from '../domain/effects.js';
import { AppError, invalidFields, notFound } from '../domain/errors.js';
import { planFollow } from '../domain/follow-state.js';
import type { Role } from '../domain/users.js';
import { recordUserEvent } from '../events/outbox.js';
import { executePlan } from './effects.js';
import type { Transaction } from './transaction.js';
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

const lastAdmin = (user: { id: number; username: string }) =>
  new AppError(
    400,
    'last_active_admin',
    `${user.username} (id ${user.id}) is the last active administrator; promote another member first.`,
  );

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

/** The community's mode, in which user events render the member. */
const communityMode = async (tx: Transaction) => modeOf(await users.loadCommunity(tx));

const blocked = (user: { id: number; username: string }) =>
  new AppError(
    400,
    'member_blocked',
    `${user.username} (id ${user.id}) is blocked by a moderator; unblock them (kith user unblock) before activating or deactivating them.`,
  );

/** A 400 for a member an operator deactivated: activating them is the operator's, not a moderator's. */
export const deactivated = (user: { id: number; username: string }) =>
  new AppError(
    400,
    'member_deactivated',
    `${user.username} (id ${user.id}) was deactivated by an operator; activate them first (kith user activate).`,
  );

/**
 * Changes a member's role, or activates them. The last active administrator cannot lose the admin
 * role: the community would have nobody left to administer it over the API. A blocked member is
 * unblocked, not activated (a 400 `member_blocked`).
 */
async function changeAccount(
  db: Database,
  ref: MemberRef,
  patch: { is_active?: true; role?: Role | null },
): Promise<Changed> {
  return db.transaction().execute(async (tx) => {
    const found = await users.findMember(tx, ref);
    if (!found || found.deleted) throw notFound(`No user with ${describe(ref)}.`);
    // The administrators and the member, locked together in id order (as every pair change locks).
    const admins = await users.lockActiveAdminsAnd(tx, found.id);
    const user = await users.findMember(tx, { id: found.id });
    if (!user || user.deleted) throw notFound(`No user with ${describe(ref)}.`);
    const after = { ...user, ...patch };
    if (after.is_active === user.is_active && after.role === user.role) {
      return { user: withoutSecrets(user), changed: false };
    }
    if (patch.is_active && user.blocked_at !== null) throw blocked(user);
    if (isActiveAdmin(user) && !isActiveAdmin(after) && admins.every((id) => id === user.id)) {
      throw lastAdmin(user);
    }
    const changed = await users.updateAccount(tx, user.id, patch);
    await recordUserEvent(tx, 'user.updated', changed, await communityMode(tx));
    return { user: withoutSecrets(changed), changed: true };
  });
}

/**
 * Deactivates or activates a member. Deactivating withdraws them as blocking does (`withdraw`: their
 * relations dissolved, their tokens refused from their next request); activating gives back the
 * account, not the dissolved relations. Neither applies to a blocked member (a 400 `member_blocked`).
 */
export async function setActive(db: Database, ref: MemberRef, active: boolean): Promise<Changed> {
  if (active) return changeAccount(db, ref, { is_active: true });
  return db.transaction().execute(async (tx) => {
    const found = await users.findMember(tx, ref);
    if (!found || found.deleted) throw notFound(`No user with ${describe(ref)}.`);
    if (found.blocked_at !== null) throw blocked(found);
    if (!found.is_active) return { user: withoutSecrets(found), changed: false };
    const user = await withdraw(tx, ref);
    if (user.blocked_at !== null) throw blocked(user);
    const changed = await users.updateAccount(tx, user.id, { is_active: false });
    await recordUserEvent(tx, 'user.updated', changed, await communityMode(tx));
    return { user: withoutSecrets(changed), changed: true };
  });
}

/** Gives a member a role, or none (null). */
export const setRole = (db: Database, ref: MemberRef, role: Role | null) => changeAccount(db, ref, { role });

/** Sets a member's password after the SelfCommunity password rule (a 400 naming it otherwise). No event: the password is in no payload. */
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

/**
 * Blocks a member (moderation): `days` days from now, or for ever (undefined). They are withdrawn as
 * a deactivated member is (`withdraw`), and the block is recorded (`blocked_at`, `days_blocked`,
 * `block_expires_at`) so that only unblocking gives the account back. Blocking a blocked member
 * starts a new block from now. A 404 for an unknown or deleted member; a 400 for `by` themself
 * (`self_block`), the last active administrator (`last_active_admin`) and a member an operator
 * deactivated (`member_deactivated`).
 */
export async function blockMember(
  db: Database,
  ref: MemberRef,
  days: number | undefined,
  by?: number,
): Promise<Member> {
  return db.transaction().execute(async (tx) => {
    const found = await users.findMember(tx, ref);
    if (!found || found.deleted) throw notFound(`No user with ${describe(ref)}.`);
    if (found.id === by) throw new AppError(400, 'self_block', 'You cannot block yourself.');
    const user = await withdraw(tx, ref);
    if (!user.is_active && user.blocked_at === null) throw deactivated(user);
    const changed = await users.setBlock(tx, user.id, days);
    await recordUserEvent(tx, 'user.updated', changed, await communityMode(tx));
    return withoutSecrets(changed);
  });
}

/**
 * Lifts a member's block: the account comes back (active, no block), the relations dissolved by the
 * block do not. `changed` is false for a member who was not blocked (a 404 for nobody, deleted included).
 * With `ifExpiredBy`, only a block that ended by then is lifted (the sweep of `liftExpiredBlocks`).
 */
export async function unblockMember(db: Database, ref: MemberRef, ifExpiredBy?: Date): Promise<Changed> {
  return db.transaction().execute(async (tx) => {
    const user = await users.findMember(tx, ref, { lock: true });
    if (!user || user.deleted) throw notFound(`No user with ${describe(ref)}.`);
    const expired = user.block_expires_at !== null && ifExpiredBy !== undefined && user.block_expires_at <= ifExpiredBy;
    if (user.blocked_at === null || (ifExpiredBy !== undefined && !expired)) {
      return { user: withoutSecrets(user), changed: false };
    }
    const changed = await users.setBlock(tx, user.id, null);
    await recordUserEvent(tx, 'user.updated', changed, await communityMode(tx));
    return { user: withoutSecrets(changed), changed: true };
  });
}

/** Lifts every block whose time is up (each in its own transaction, with its event); returns the members unblocked. */
export async function liftExpiredBlocks(db: Database, now = new Date()): Promise<Member[]> {
  const lifted: Member[] = [];
  for (const id of await users.expiredBlocks(db, now)) {
    const { user, changed } = await unblockMember(db, { id }, now);
    if (changed) lifted.push(user);
  }
  return lifted;
}

/**
 * Deletes a member, in one transaction: withdrawn (`withdraw`: every relation dissolved, every
 * notification they received or caused deleted, their refresh tokens gone), their settings gone,
 * `user.deleted` recorded with the member as they were, and their personal fields erased; the row
 * stays as a tombstone (`deleted_<id>`, inactive) so ids are never reused. A 404 for an unknown or
 * deleted member; a 400 for `by` themself (`self_deletion`) and for the last active administrator
 * (`last_active_admin`). Returns the member as they were.
 */
export async function deleteMember(db: Database, ref: MemberRef, by?: number): Promise<Member> {
  return db.transaction().execute(async (tx) => {
    const found = await users.findMember(tx, ref);
    if (!found || found.deleted) throw notFound(`No user with ${describe(ref)}.`);
    if (found.id === by)
      throw new AppError(400, 'self_deletion', 'You cannot delete yourself; ask another administrator.');
    const user = await withdraw(tx, ref, { hides: true });
    await settings.deleteAllOf(tx, user.id);
    // Hides are a member's own choices: kept while blocked or deactivated, gone with the member.
    await deleteHidesOf(tx, user.id);
    // The receivers learn who went as they were (id, ext_id, email: what their own systems match on).
    await recordUserEvent(tx, 'user.deleted', { ...user, is_active: false, deleted: true }, await communityMode(tx));
    await users.eraseMember(tx, user.id);
    return withoutSecrets(found);
  });
}

/**
 * Withdraws a member from the graph, in the caller's transaction, before they are deactivated,
 * blocked or deleted: every relation dissolved through the domain's plans (their counters, per-day
 * counts, stored JSON and an event each, nobody notified), every notification they received or
 * caused deleted, their refresh tokens gone, their open sockets closed on commit. Their access tokens
 * stop working at the next request once the caller makes them inactive (the gate admits active
 * members only), and never work again, even once they are back (`cutOffTokens`). A 404 for nobody; a
 * 400 for the last active administrator (`last_active_admin`). Returns their row, locked, afterwards.
 */
async function withdraw(tx: Transaction, ref: MemberRef, { hides = false } = {}): Promise<UserRow> {
  const found = await users.findMember(tx, ref);
  if (!found || found.deleted) throw notFound(`No user with ${describe(ref)}.`);
  const { id } = found;
  const admins = isActiveAdmin(found) ? await users.activeAdmins(tx) : [];
  const locked = await lockWithdrawal(tx, id, admins, { hides });
  const user = locked.get(id);
  if (!user || user.deleted) throw notFound(`No user with ${describe(ref)}.`);
  if (isActiveAdmin(user) && ![...locked.values()].some((m) => m.id !== id && isActiveAdmin(m))) {
    throw lastAdmin(found);
  }
  const related = await connections.relatedMembers(tx, id);
  for (const other of related) await dissolve(tx, id, other);
  await deleteNotificationsOf(tx, id);
  await deleteRefreshTokensOf(tx, id);
  await users.cutOffTokens(tx, id);
  await notifyOnCommit(tx, [{ channel: CHANNEL_NOTIFICATIONS, payload: sessionsClosed(id) }]);
  const after = await users.findMember(tx, { id });
  if (!after) throw notFound(`No user with ${describe(ref)}.`);
  return after;
}

/**
 * Locks the member, everyone they are related to (and, with `hides`, everyone in a hide with them)
 * and `admins`, all in one id-ordered pass: the order of every pair change (lockPair), so none of
 * them waits for us while we wait for it. Whoever changes a relation of theirs locks them too, as
 * does whoever changes an administrator (lockActiveAdminsAnd): once they are locked, none of that moves.
 *
 * The related members are read before the member is locked, so a relation made in between names
 * someone not yet locked; locking them then would be out of order (a move of theirs holding them
 * and waiting for us: a deadlock). Instead the locks are let go (the savepoint) and taken again,
 * all in order, with the newcomers; once the member is locked, no relation of theirs can be made.
 */
async function lockWithdrawal(tx: Transaction, id: number, admins: readonly number[], { hides = false }) {
  let wanted = [id, ...admins, ...(await connections.relatedMembers(tx, id, { hides }))];
  for (;;) {
    await sql`SAVEPOINT kith_withdrawal_locks`.execute(tx);
    const locked = await connections.lockMembers(tx, wanted);
    const newcomers = (await connections.relatedMembers(tx, id, { hides })).filter((other) => !locked.has(other));
    if (newcomers.length === 0) {
      await sql`RELEASE SAVEPOINT kith_withdrawal_locks`.execute(tx);
      return locked;
    }
    await sql`ROLLBACK TO SAVEPOINT kith_withdrawal_locks`.execute(tx);
    wanted = [...wanted, ...newcomers];
  }
}

/** Dissolves whatever holds between a withdrawn member and another: each move the plan a member would make. */
async function dissolve(tx: Transaction, deleted: number, other: number) {
  // Both are locked already (withdraw): loading the pair waits for nobody. Each move changes the
  // counters the next one starts from, so the pair is loaded again after each.
  let locked = await lockPair(tx, deleted, other);
  const run = async (effects: readonly Effect[], me: number, them: number) => {
    await executePlan(tx, withoutNotifications(effects), { me, them, locked });
    locked = await lockPair(tx, deleted, other);
  };
  const state = pairStateOf(deleted, locked);
  const move = dissolution(state);
  if (move) {
    // A request to the deleted member is withdrawn by its sender; the rest is the deleted member's move.
    const [me, them] = move.by === 'deleted' ? [deleted, other] : [other, deleted];
    const hides = move.by === 'deleted' ? locked.hides : { byMe: locked.hides.byThem, byThem: locked.hides.byMe };
    const decided = plan(move.by === 'deleted' ? state : mirror(state), move.action, { me, them }, hides);
    if (!decided.ok) throw new Error(`cannot dissolve ${state}: ${decided.reason}`);
    await run(decided.effects, me, them);
  }
  for (const [follower, followed] of [
    [deleted, other],
    [other, deleted],
  ] as const) {
    if (!(follower === deleted ? locked.follows.byMe : locked.follows.byThem)) continue;
    const unfollow = planFollow('following', 'follow', { me: follower, them: followed });
    if (!unfollow.ok) throw new Error(`cannot unfollow: ${unfollow.reason}`);
    await run(unfollow.effects, follower, followed);
  }
}

/** Which move ends a pair's friendship state, and whose it is. */
function dissolution(state: PairState): { by: 'deleted' | 'other'; action: 'remove' | 'cancel_request' } | undefined {
  switch (state) {
    case 'none':
      return undefined;
    case 'connected':
      return { by: 'deleted', action: 'remove' };
    case 'sent_pending':
    case 'sent_rejected':
    case 'sent_withheld':
      return { by: 'deleted', action: 'cancel_request' };
    case 'received_pending':
    case 'received_rejected':
    case 'received_withheld':
      return { by: 'other', action: 'cancel_request' };
  }
}
