import type { GraphMode } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/hides.js';
import { findById } from '../db/repositories/users.js';
import { notFound } from '../domain/errors.js';
import { type Ordering, parseOrdering } from '../domain/ordering.js';
import type { UserOrderField } from '../domain/users.js';

/** An active member, or a 404. */
async function activeMember(db: Database, id: number) {
  const user = await findById(db, id);
  if (!user?.is_active) throw notFound('User not found.');
}

/** Whether I hide them (`is_hidden`); a 404 when they are not an active member. */
export async function isHidden(db: Database, me: number, them: number): Promise<boolean> {
  await activeMember(db, them);
  return repo.hides(db, me, them);
}

/** Whether they hide me (`is_hidden_by`); a 404 when they are not an active member. */
export async function isHiddenBy(db: Database, me: number, them: number): Promise<boolean> {
  await activeMember(db, them);
  return repo.hides(db, them, me);
}

/** The ids of the active members I hide, ascending. */
export function hiddenUserIds(db: Database, me: number): Promise<number[]> {
  return repo.hiddenIds(db, me);
}

export interface HiddenListQuery extends Partial<Record<repo.HiddenFilterField, string>> {
  search?: string | undefined;
  ordering?: Ordering<UserOrderField> | undefined;
  limit: number;
  offset: number;
}

/**
 * A page of the active members I hide, each with my connection status towards them; the last
 * hidden first unless `ordering` names a user field.
 */
export function listHiddenUsers(db: Database, me: number, query: HiddenListQuery, mode: GraphMode) {
  return repo.listHidden(db, me, hiddenFilter(query), mode);
}

/** What the page `listHiddenUsers` would answer derives from: its total and its users' ids and graph versions. */
export function listHiddenVersions(db: Database, me: number, query: HiddenListQuery) {
  return repo.listHiddenVersions(db, me, hiddenFilter(query));
}

function hiddenFilter(query: HiddenListQuery): repo.HiddenListFilter {
  const fields: Partial<Record<repo.HiddenFilterField, string>> = {};
  for (const field of repo.HIDDEN_FILTER_FIELDS) {
    const value = query[field];
    if (value !== undefined) fields[field] = value;
  }
  return {
    search: query.search,
    fields,
    ordering: query.ordering ? parseOrdering(query.ordering) : { column: 'hidden_at', descending: true },
    limit: query.limit,
    offset: query.offset,
  };
}
