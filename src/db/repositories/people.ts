import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { GraphMode } from '../../contracts/user.js';
import type { DB, UserRow } from '../schema.js';
import { connectionStatusSql, pageOf, type UserWithStatus } from './users.js';

type Executor = Kysely<DB>;

/**
 * Finding people and suggesting them: the SQL of `/user/search/`, `/user/autocomplete/`,
 * `/user/match/` and `/suggestion/user/`. Every statement reads a bounded number of index entries,
 * whatever the size of the community or of the viewer's graph (migrations 0012 and 0023 have the indexes).
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
function matches(field: SearchField | 'both', pattern: string, prefix: boolean): RawBuilder<boolean> {
  const one = (f: SearchField) => sql<boolean>`${prefix ? foldedC(f) : folded(f)} LIKE ${pattern}`;
  return field === 'both' ? sql<boolean>`(${one('username')} OR ${one('real_name')})` : one(field);
}

/** Whether a term matches a name's start only (short terms) or anywhere in it. */
const isShort = (term: string) => [...term.normalize('NFC')].length < SUBSTRING_MIN;

/**
 * Words so common among the names that a trigram scan for them reads most of the index: a term's
 * leading or trailing common words are left out of what the trigram index is asked (the whole term
 * is still checked on every row it returns). Taken from the planner's own sample of the folded names
 * (the histograms ANALYZE keeps for the two name indexes): a word that is part of at least a fifth
 * of the sampled names. Read at most every ten minutes per database; no histogram (a small or fresh
 * database), no common words.
 */
const COMMON_SHARE = 0.2;
const COMMON_TTL_MS = 10 * 60_000;

/** The planner's sample of the folded names (both name indexes' histograms) and how many members there are. */
export interface NameSample {
  names: string[];
  members: number;
}

const samples = new WeakMap<object, NameSample & { at: number }>();

async function sampledNames(db: Executor): Promise<NameSample> {
  const cached = samples.get(db);
  if (cached && Date.now() - cached.at < COMMON_TTL_MS) return cached;
  const { rows } = await sql<{ names: string[] | null; members: number }>`
    SELECT histogram_bounds::text::text[] AS names,
      (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'users'::regclass) AS members
    FROM pg_stats
    WHERE schemaname = current_schema()
      AND tablename IN ('users_search_username_idx', 'users_search_real_name_idx')`.execute(db);
  const sample = { names: rows.flatMap((r) => r.names ?? []), members: rows[0]?.members ?? 0, at: Date.now() };
  samples.set(db, sample);
  return sample;
}

/**
 * Whether a search's other matches are found by walking the members in id order (the primary key,
 * stopping at the cap: right for a term most names contain) or by the name indexes (trigram or
 * prefix: right for a term few names contain), chosen here from the sampled names rather than left
 * to the planner: it estimates a pattern inside a name at a fixed share of the rows, so a rare term
 * in a large community can be planned as a walk that filters every member (seconds at a million).
 * A walk reads about SEARCH_CAP / f members for a term in a share f of them, the indexes about
 * f × members rows (each dearer: a heap fetch and the check), so the walk wins above
 * f = √(SEARCH_CAP / (2 × members)): about 2% at a million members, 4% at 300,000, never below 500
 * members. false: the indexes, forced (`otherMatchesOrder`); true: ordered by id, which lets the
 * planner walk; null, with no sample (a never analyzed database): ordered by id, the planner chooses.
 */
export function walkInIdOrder(term: string, sample: NameSample): boolean | null {
  if (sample.names.length === 0) return null;
  const folded = fold(term);
  const short = isShort(term);
  const hits = sample.names.filter((name) => (short ? name.startsWith(folded) : name.includes(folded))).length;
  // Each member has two names and each index its own sample: a share of either is a share of members.
  const share = Math.min(1, hits / (sample.names.length / 2));
  return share >= Math.sqrt(SEARCH_CAP / (2 * sample.members));
}

/** `ORDER BY` of the other matches: the id, or an expression of it no index has (so no walk is planned). */
const otherMatchesOrder = (walk: boolean | null) => (walk === false ? sql`u.id + 0` : sql`u.id`);

/** Lower case without accents, as `kith_fold` folds (close enough to tell common words). */
const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/**
 * The part of a term the trigram index is asked for: the term without its leading and trailing
 * words that most names contain (`member_1234` → `_1234` when most names contain "member"), the
 * separators next to what is kept staying, so the word boundaries still narrow the scan. The whole
 * term when nothing is common or nothing else would remain.
 */
export function distinctivePart(term: string, names: string[]): string {
  if (names.length === 0) return term;
  const common = (word: string) =>
    names.filter((name) => name.includes(fold(word))).length >= COMMON_SHARE * names.length;
  const tokens = term.match(/[\p{L}\p{N}]+|[^\p{L}\p{N}]+/gu) ?? [];
  const isWord = (token: string | undefined) => token !== undefined && /[\p{L}\p{N}]/u.test(token);
  let start = 0;
  let end = tokens.length;
  while (start < end && isWord(tokens[start]) && common(tokens[start]!)) start++;
  while (end > start && isWord(tokens[end - 1]) && common(tokens[end - 1]!)) end--;
  const kept = tokens.slice(start, end);
  return kept.some(isWord) ? kept.join('') : term;
}

/**
 * Both folded names as the trigram index has them (migration 0023): a term in either name is in
 * this, so the index is asked for it here and the names themselves are checked on what it returns.
 */
const foldedNames = sql`kith_fold(u.username || ' ' || u.real_name)`;

/** A term as the search uses it: `folded` as names are; `indexed`, the folded part the trigram index is asked for. */
interface FoldedTerm {
  field: SearchField | 'both';
  term: string;
  folded: string;
  indexed: string;
}

/**
 * The terms folded by `kith_fold`, in one statement of their own before the search's: the search's
 * patterns are then plain values its plan is made for (a btree prefix range needs its prefix when
 * planned), and the planner no longer evaluates `kith_fold` — an SQL function it cannot inline,
 * set up afresh for each call — at each of the five or six places a term appears (a search's
 * PostgreSQL planning 1.45 → 1.05 ms, measured on the bench's 300k dataset). `indexed`: the first
 * term's part for the trigram index (`distinctivePart`).
 */
async function foldTerms(db: Executor, terms: SearchFilter['terms'], indexed: string): Promise<FoldedTerm[]> {
  if (terms.length === 0) return [];
  const texts = [indexed, ...terms.map((t) => t.term)];
  const { rows } = await sql<{ folded: string[] }>`
    SELECT array(SELECT kith_fold(t) FROM unnest(${texts}::text[]) WITH ORDINALITY AS x(t, i) ORDER BY i)
      AS folded`.execute(db);
  const [first, ...folded] = rows[0]!.folded;
  return terms.map((t, i) => ({ ...t, folded: folded[i]!, indexed: i === 0 ? first! : folded[i]! }));
}

/** The condition one term puts on a member. */
function termCondition({ field, term, folded, indexed }: FoldedTerm): RawBuilder<boolean> {
  if (isShort(term)) return matches(field, `${escapeLike(folded)}%`, true);
  const inIndex = sql<boolean>`${foldedNames} LIKE ${`%${escapeLike(indexed)}%`}`;
  return sql<boolean>`${inIndex} AND ${matches(field, `%${escapeLike(folded)}%`, false)}`;
}

/**
 * A page of members matching every term, and how many match (at most `SEARCH_CAP`), in one
 * statement after the terms' folding (`foldTerms`). By relevance (no `ordering`, the first term in
 * both names or the username: the search box and autocomplete), see `searchByRelevance`; otherwise
 * the candidates come from two index reads of at most `SEARCH_CAP + 1` rows each: the members whose
 * folded name starts with the first term, in name order (the btree index: so the best matches of a
 * common term are always among them), and, only when those are not already more than the cap, the
 * members matching every term, in id order (the trigram index, or the prefix indexes for short
 * terms). Only those are ranked.
 */
export async function searchMembers(
  db: Executor,
  viewerId: number | null,
  filter: SearchFilter,
  mode: GraphMode,
): Promise<{ total: number; items: UserWithStatus[] }> {
  const sample = filter.terms[0] ? await sampledNames(db) : { names: [], members: 0 };
  const firstTerm = filter.terms[0]?.term ?? '';
  const names = isShort(firstTerm) ? [] : sample.names;
  const terms = await foldTerms(db, filter.terms, distinctivePart(firstTerm, names));
  const first = terms[0];
  const walk = first ? walkInIdOrder(first.term, sample) : null;
  const conditions = [findable(viewerId), ...terms.map(termCondition)];
  if (filter.exclude.length > 0) conditions.push(sql<boolean>`u.id <> ALL(${filter.exclude}::int[])`);
  if (first && first.field !== 'real_name' && filter.ordering === null) {
    return searchByRelevance(db, viewerId, filter, conditions, first.folded, mode, walk);
  }
  const where = sql.join(conditions, sql` AND `);
  // Starting with the first term implies matching it: its own condition is left out of the prefix
  // read, so the planner walks the btree in order and stops at the cap.
  const prefixWhere = sql.join([conditions[0]!, ...conditions.slice(2)], sql` AND `);
  const prefixField: SearchField = first?.field === 'real_name' ? 'real_name' : 'username';
  const prefixPattern = `${escapeLike(first?.folded ?? '')}%`;
  const others = sql`
    UNION SELECT o.id FROM (
      SELECT u.id FROM users u WHERE (SELECT count(*) FROM prefixed) <= ${SEARCH_CAP} AND ${where}
      ORDER BY ${otherMatchesOrder(walk)} LIMIT ${SEARCH_CAP + 1}) o`;
  const candidates = sql`
    WITH prefixed AS MATERIALIZED (
      SELECT u.id FROM users u WHERE ${prefixWhere} AND ${foldedC(prefixField)} LIKE ${prefixPattern}
      ORDER BY ${foldedC(prefixField)}, u.id LIMIT ${SEARCH_CAP + 1})
    SELECT id FROM prefixed ${first ? others : sql``}`;

  const term = sql<string>`${first?.folded ?? null}::text`;
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

/**
 * The search box's order: the exact username first, then usernames starting with the term (in name
 * order), then real names with a word starting with it, then other matches; each group in username
 * order. The members whose username starts with the term are read from the byte-order btree in
 * that very order (`prefixed`, at most `SEARCH_CAP + 1`: an exact match sorts first among them), so
 * they are already ranked; only when they are fewer than the cap are the other matches looked for
 * (`others`, the trigram index, at most `SEARCH_CAP + 1` in id order) and ranked. A common term
 * thus costs one range scan of the btree, whatever the size of the community.
 */
async function searchByRelevance(
  db: Executor,
  viewerId: number | null,
  filter: SearchFilter,
  conditions: RawBuilder<boolean>[],
  firstFolded: string,
  mode: GraphMode,
  walk: boolean | null,
): Promise<{ total: number; items: UserWithStatus[] }> {
  // Starting with the first term implies matching it: the first term's own condition is left out.
  const prefixed = sql.join([conditions[0]!, ...conditions.slice(2)], sql` AND `);
  const every = sql.join(conditions, sql` AND `);
  const term = sql<string>`${firstFolded}::text`;
  const prefixPattern = `${escapeLike(firstFolded)}%`;
  const limit = Math.max(0, Math.min(filter.limit, SEARCH_CAP - filter.offset));
  const { rows } = await sql<UserWithStatus & { total: number }>`
    WITH prefixed AS MATERIALIZED (
      SELECT p.id, row_number() OVER () AS pos FROM (
        SELECT u.id FROM users u WHERE ${prefixed} AND ${foldedC('username')} LIKE ${prefixPattern}
        ORDER BY ${foldedC('username')}, u.id LIMIT ${SEARCH_CAP + 1}) p
    ), others AS MATERIALIZED (
      SELECT o.id FROM (
        SELECT u.id FROM users u
        WHERE (SELECT count(*) FROM prefixed) <= ${SEARCH_CAP} AND ${every}
        ORDER BY ${otherMatchesOrder(walk)} LIMIT ${SEARCH_CAP + 1}) o
      WHERE NOT EXISTS (SELECT 1 FROM prefixed x WHERE x.id = o.id)
    ), ranked AS (
      SELECT id, 0 AS rank, pos, NULL::text AS name FROM prefixed
      UNION ALL
      SELECT u.id,
        CASE WHEN starts_with(f.real_name, ${term}) OR strpos(f.real_name, ' ' || ${term}) > 0 THEN 2 ELSE 3 END,
        0, f.username
      FROM others o JOIN users u ON u.id = o.id
      CROSS JOIN LATERAL (SELECT ${folded('real_name')} AS real_name, ${folded('username')} AS username OFFSET 0) f
    )
    SELECT t.total, p.* FROM (
      SELECT least((SELECT count(*) FROM prefixed) + (SELECT count(*) FROM others), ${SEARCH_CAP})::int AS total
    ) t
    LEFT JOIN LATERAL (
      SELECT u.*, ${connectionStatusSql(viewerId, sql`u.id`, mode)} AS connection_status
      FROM (SELECT * FROM ranked r ORDER BY r.rank, r.pos, r.name COLLATE "C", r.id LIMIT ${limit} OFFSET ${filter.offset}) r
      JOIN users u ON u.id = r.id
      ORDER BY r.rank, r.pos, r.name COLLATE "C", r.id
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
