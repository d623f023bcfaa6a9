import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import type { DB, UserRow } from '../schema.js';
import { connectionStatusSql, pageOf, type UserWithStatus } from './users.js';

type Executor = Kysely<DB>;

/**
 * Finding people and suggesting them: the SQL of `/user/search/`, `/user/autocomplete/`,
 * `/user/match/` and `/suggestion/user/`. Every statement reads a bounded number of index entries,
 * whatever the size of the community or of the viewer's graph (migration 0012 has the indexes).
 */

/** Who is findable and suggestible at all: active, not deleted, not hidden by the viewer. */
function findable(viewerId: number | null): RawBuilder<boolean> {
  const alive = sql<boolean>`u.is_active AND NOT u.deleted`;
  if (viewerId === null) return alive;
  return sql<boolean>`${alive}
    AND NOT EXISTS (SELECT 1 FROM user_hides h WHERE h.hider_id = ${viewerId} AND h.hidden_id = u.id)`;
}

/** A search never ranks more than this many matches: a term matching more is answered with its best ones. */
export const SEARCH_CAP = 1000;

/** Terms shorter than this match the start of a name only (a trigram index needs three characters). */
export const SUBSTRING_MIN = 3;

export type SearchField = 'username' | 'real_name';

export interface SearchFilter {
  /** What to look for and where: `both` for the `user`/`search` term, one field for `username`/`real_name`. */
  terms: Array<{ field: SearchField | 'both'; term: string }>;
  /** null: by relevance (exact username, username prefix, real name word prefix, other matches), then username. */
  ordering: { column: SearchField; descending: boolean } | null;
  /** Members left out (autocomplete's `exclude`, the viewer themself there). */
  exclude: number[];
  limit: number;
  offset: number;
}

const escapeLike = (term: string) => term.replace(/[\\%_]/g, (c) => `\\${c}`);
const folded = (field: SearchField) => sql`kith_fold(${sql.ref(`u.${field}`)})`;
const foldedC = (field: SearchField) => sql`(kith_fold(${sql.ref(`u.${field}`)}) COLLATE "C")`;

/** `field(s) LIKE pattern`, the pattern folded as the names are; byte order (`C`) for the btree prefix indexes. */
function matches(field: SearchField | 'both', pattern: RawBuilder<string>, prefix: boolean): RawBuilder<boolean> {
  const one = (f: SearchField) => sql<boolean>`${prefix ? foldedC(f) : folded(f)} LIKE ${pattern}`;
  return field === 'both' ? sql<boolean>`(${one('username')} OR ${one('real_name')})` : one(field);
}

/** Whether a term matches a name's start only (short terms) or anywhere in it. */
const isShort = (term: string) => [...term.normalize('NFC')].length < SUBSTRING_MIN;

/** The condition one term puts on a member. */
function termCondition({ field, term }: SearchFilter['terms'][number]): RawBuilder<boolean> {
  const escaped = escapeLike(term);
  if (isShort(term)) return matches(field, sql<string>`kith_fold(${escaped}) || '%'`, true);
  return matches(field, sql<string>`'%' || kith_fold(${escaped}) || '%'`, false);
}

/**
 * A page of members matching every term, and how many match (at most `SEARCH_CAP`), in one
 * statement. The candidates come from two index reads of at most `SEARCH_CAP + 1` rows each: the
 * members whose folded name starts with the first term, in name order (the btree index: so the best
 * matches of a common term are always among them), and the members matching every term, in id order
 * (the trigram index, or the prefix indexes for short terms). Only those are ranked.
 */
export async function searchMembers(
  db: Executor,
  viewerId: number | null,
  filter: SearchFilter,
  mode: GraphMode,
): Promise<{ total: number; items: UserWithStatus[] }> {
  const conditions = [findable(viewerId), ...filter.terms.map(termCondition)];
  if (filter.exclude.length > 0) conditions.push(sql<boolean>`u.id <> ALL(${filter.exclude}::int[])`);
  const where = sql.join(conditions, sql` AND `);
  const first = filter.terms[0];
  const prefixField: SearchField = first?.field === 'real_name' ? 'real_name' : 'username';
  const prefixPattern = sql<string>`kith_fold(${escapeLike(first?.term ?? '')}) || '%'`;
  const candidates = sql`
    (SELECT u.id FROM users u WHERE ${where} AND ${foldedC(prefixField)} LIKE ${prefixPattern}
     ORDER BY ${foldedC(prefixField)}, u.id LIMIT ${SEARCH_CAP + 1})
    ${first ? sql`UNION (SELECT u.id FROM users u WHERE ${where} ORDER BY u.id LIMIT ${SEARCH_CAP + 1})` : sql``}`;

  const term = first ? sql<string>`kith_fold(${first.term})` : sql<string>`NULL::text`;
  const rank = sql<number>`CASE
    WHEN ${folded('username')} = ${term} THEN 0
    WHEN starts_with(${folded('username')}, ${term}) THEN 1
    WHEN starts_with(${folded('real_name')}, ${term}) OR strpos(${folded('real_name')}, ' ' || ${term}) > 0 THEN 2
    ELSE 3 END`;
  const order = filter.ordering
    ? sql`${foldedC(filter.ordering.column)} ${filter.ordering.descending ? sql`DESC` : sql`ASC`}, u.id`
    : sql`${rank}, ${foldedC('username')}, u.id`;
  const limit = Math.max(0, Math.min(filter.limit, SEARCH_CAP - filter.offset));

  const { rows } = await sql<UserWithStatus & { total: number }>`
    WITH hit AS MATERIALIZED (${candidates})
    SELECT t.total, p.* FROM (SELECT least(count(*), ${SEARCH_CAP})::int AS total FROM hit) t
    LEFT JOIN LATERAL (
      SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
      FROM hit JOIN users u ON u.id = hit.id
      ORDER BY ${order}
      LIMIT ${limit} OFFSET ${filter.offset}
    ) p ON true`.execute(db);
  return pageOf(rows);
}

/** The findable members with exactly these usernames (case-insensitive), in username order. */
export async function matchUsernames(
  db: Executor,
  viewerId: number,
  usernames: string[],
  mode: GraphMode,
): Promise<UserWithStatus[]> {
  if (usernames.length === 0) return [];
  const { rows } = await sql<UserWithStatus>`
    SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
    FROM users u
    WHERE lower(u.username) = ANY(${usernames.map((name) => name.toLowerCase())}::text[]) AND ${findable(viewerId)}
    ORDER BY lower(u.username)`.execute(db);
  return rows;
}

/**
 * How far suggestions look: the viewer's newest `FRIENDS` connections (followings in follow mode),
 * the newest `PER_FRIEND` of each of theirs, and the `NEWEST` members (for someone with no
 * connection yet); of those, the `KEPT` best ranked before the exclusions are checked. So at most
 * FRIENDS × PER_FRIEND index entries and KEPT candidates' checks, whatever the viewer's graph.
 */
export const SUGGESTION_BOUNDS = { FRIENDS: 100, PER_FRIEND: 100, NEWEST: 50, KEPT: 100 } as const;

/**
 * A page of members to suggest to the viewer, and how many there are (at most `KEPT`): friends of
 * friends (followings of followings) and the newest members, without the viewer, their connections
 * (followings), anyone with a request to or from them (pending or rejected), members they hide or
 * who hide them, and inactive or deleted members. Ranked by mutual connections among those looked
 * at, then the newest member first (ids are given in the order members join). One statement.
 */
export async function suggestMembers(
  db: Executor,
  viewerId: number,
  window: { limit: number; offset: number },
  mode: GraphMode,
): Promise<{ total: number; items: UserRow[] }> {
  const { FRIENDS, PER_FRIEND, NEWEST, KEPT } = SUGGESTION_BOUNDS;
  // The one-hop and two-hop edges: connections both ways (a row per side), or follows outward.
  const [table, from, to, byDate] =
    mode === 'follow'
      ? [sql`follows`, sql`follower_id`, sql`followed_id`, sql`created DESC, followed_id DESC`]
      : [sql`connections`, sql`user_id`, sql`friend_id`, sql`created DESC, friend_id DESC`];
  const related =
    mode === 'follow'
      ? sql<boolean>`EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = ${viewerId} AND x.followed_id = c.id)`
      : sql<boolean>`(EXISTS (SELECT 1 FROM connections x WHERE x.user_id = ${viewerId} AND x.friend_id = c.id)
          OR EXISTS (SELECT 1 FROM connection_requests r
                     WHERE least(r.from_user_id, r.to_user_id) = least(${viewerId}::int, c.id)
                       AND greatest(r.from_user_id, r.to_user_id) = greatest(${viewerId}::int, c.id)))`;
  const { rows } = await sql<UserRow & { total: number }>`
    WITH mine AS (
      SELECT e.${to} AS id FROM ${table} e WHERE e.${from} = ${viewerId} ORDER BY ${byDate} LIMIT ${FRIENDS}
    ), candidate AS (
      SELECT id, max(mutual) AS mutual FROM (
        SELECT f.id, count(*) AS mutual
        FROM mine m CROSS JOIN LATERAL (
          SELECT e.${to} AS id FROM ${table} e WHERE e.${from} = m.id ORDER BY ${byDate} LIMIT ${PER_FRIEND}
        ) f
        -- My connections read above are most of the best-ranked candidates: gone before the cut.
        WHERE f.id NOT IN (SELECT id FROM mine)
        GROUP BY f.id
        UNION ALL
        (SELECT u.id, 0 FROM users u WHERE u.is_active AND NOT u.deleted ORDER BY u.id DESC LIMIT ${NEWEST})
      ) x
      WHERE id <> ${viewerId}
      GROUP BY id ORDER BY max(mutual) DESC, id DESC LIMIT ${KEPT}
    ), suggested AS MATERIALIZED (
      SELECT c.id, c.mutual FROM candidate c JOIN users u ON u.id = c.id
      WHERE ${findable(viewerId)}
        AND NOT EXISTS (SELECT 1 FROM user_hides h WHERE h.hider_id = c.id AND h.hidden_id = ${viewerId})
        AND NOT ${related}
    )
    SELECT t.total, p.* FROM (SELECT count(*)::int AS total FROM suggested) t
    LEFT JOIN LATERAL (
      SELECT u.* FROM (
        SELECT s.id, s.mutual FROM suggested s ORDER BY s.mutual DESC, s.id DESC LIMIT ${window.limit} OFFSET ${window.offset}
      ) s JOIN users u ON u.id = s.id
      ORDER BY s.mutual DESC, s.id DESC
    ) p ON true`.execute(db);
  return pageOf(rows);
}
