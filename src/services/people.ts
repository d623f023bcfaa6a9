import type { GraphMode } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import * as people from '../db/repositories/people.js';
import { type Ordering, parseOrdering } from '../domain/ordering.js';
import type { SearchOrderField } from '../domain/users.js';

/** The search parameters of `/user/search/` (`user/search_users.md`). */
export interface SearchInput {
  user?: string | undefined;
  search?: string | undefined;
  username?: string | undefined;
  real_name?: string | undefined;
  ordering?: Ordering<SearchOrderField> | undefined;
  limit: number;
  offset: number;
}

/** Blank terms are no terms: `?user=` lists everyone, as an empty search box does. */
const given = (term: string | undefined) => (term !== undefined && term.trim() !== '' ? term.trim() : undefined);

/** The terms of a search: `user` (or `search`) looks in both names and overrides `username`/`real_name`. */
function termsOf(input: Pick<SearchInput, 'user' | 'search' | 'username' | 'real_name'>): people.SearchFilter['terms'] {
  const both = given(input.user) ?? given(input.search);
  if (both !== undefined) return [{ field: 'both', term: both }];
  const terms: people.SearchFilter['terms'] = [];
  const username = given(input.username);
  const realName = given(input.real_name);
  if (username !== undefined) terms.push({ field: 'username', term: username });
  if (realName !== undefined) terms.push({ field: 'real_name', term: realName });
  return terms;
}

/**
 * A page of the members matching the search, the members the viewer hides, inactive and deleted
 * members left out; its count is at most `SEARCH_CAP` (a term matching more is answered with its
 * best matches: refine it).
 */
export async function searchMembers(db: Database, viewerId: number | null, input: SearchInput, mode: GraphMode) {
  return people.searchMembers(
    db,
    viewerId,
    {
      terms: termsOf(input),
      ordering: input.ordering ? parseOrdering(input.ordering) : null,
      exclude: [],
      limit: input.limit,
      offset: input.offset,
    },
    mode,
  );
}

/**
 * The best matches of a term, for a picker (`/user/autocomplete/`): one list of at most `limit`
 * members, without the viewer and the members in `exclude` (those already picked).
 */
export async function autocompleteMembers(
  db: Database,
  viewerId: number,
  input: { search?: string | undefined; user?: string | undefined; exclude: number[]; limit: number },
  mode: GraphMode,
) {
  const page = await people.searchMembers(
    db,
    viewerId,
    {
      terms: termsOf(input),
      ordering: null,
      exclude: [viewerId, ...input.exclude],
      limit: input.limit,
      offset: 0,
    },
    mode,
  );
  return page.items;
}

/** The findable members with these usernames (`/user/match/`: resolving a pasted list of names). */
export async function matchUsernames(db: Database, viewerId: number, usernames: string[], mode: GraphMode) {
  return people.matchUsernames(db, viewerId, [...new Set(usernames.map((name) => name.trim()))], mode);
}

/** A page of members to suggest to the viewer (`/suggestion/user/`): see `suggestMembers`. */
export async function suggestMembers(
  db: Database,
  viewerId: number,
  window: { limit: number; offset: number },
  mode: GraphMode,
) {
  return people.suggestMembers(db, viewerId, window, mode);
}
