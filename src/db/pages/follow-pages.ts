import type { Kysely } from 'kysely';
import type { PageBytes } from '../pg-bytes.js';
import type { DB } from '../schema.js';
import {
  type PageStatement as FixedPageStatement,
  pageSql,
  parameterSlots,
  runPageStatement,
  type Shape,
} from './page-shapes.js';
import { type JsonPage, type PageVersions, parseRowCursor, type RowCursor } from './request-pages.js';

/** Whose list: the members who follow X, or the members X follows. */
export type FollowList = 'followers' | 'followings';

export interface FollowPageQuery {
  list: FollowList;
  /** The member whose list it is. */
  userId: number;
  /** The member looking (their status towards each item; the `mutual` filter); null: anonymous. */
  viewerId: number | null;
  /** 1: only those also in that relation with the viewer; 0: the others; undefined: everyone. */
  mutual: boolean | undefined;
  limit: number;
  offset: number;
  /** Seek past this row instead of skipping `offset` rows (only without `mutual`). */
  after?: RowCursor | undefined;
}

/** Below this offset a plain index walk is as cheap as the per-day counts. */
const DAYS_FROM_OFFSET = 2000;

type Filter = 'all' | 'mutual' | 'other';
type Params = {
  user: number;
  viewer: number | null;
  limit: number;
  offset: number;
  micros: string | null;
  afterId: number | null;
};
type TagRow = { count: number; owner_version: string; items_version: string | null; item_ids: string | null };
type PageRow = TagRow & { items$bytes: string | PageBytes | null; last: string | null };

type PageStatement = FixedPageStatement<keyof Params>;

/**
 * The text of one follow list's page statement: the page on the list's covering index
 * (migration 0009), the users from their stored follow-mode JSON with the viewer's status spliced
 * in (`followed` when the viewer follows them), the total from the member's counter when nothing
 * is filtered. No row when the member is missing or inactive.
 */
function pageStatement(list: FollowList, shape: Shape, filter: Filter, tagOnly = false): PageStatement {
  const { slots, slot } = parameterSlots<keyof Params>();
  const user = slot('user');
  const [whose, other] = list === 'followers' ? ['f.followed_id', 'f.follower_id'] : ['f.follower_id', 'f.followed_id'];
  // "Also in that relation with me": they follow me too (followers), I follow them too (followings).
  const withViewer =
    list === 'followers'
      ? `EXISTS (SELECT 1 FROM follows m WHERE m.follower_id = ${other} AND m.followed_id = ${slot('viewer', '::int')})`
      : `EXISTS (SELECT 1 FROM follows m WHERE m.follower_id = ${slot('viewer', '::int')} AND m.followed_id = ${other})`;
  const where = `${whose} = ${user}${filter === 'mutual' ? ` AND ${withViewer}` : filter === 'other' ? ` AND NOT ${withViewer}` : ''}`;
  const page = pageSql(shape, {
    from: 'follows f',
    columns: `${other} AS other_id, f.created`,
    where,
    created: 'f.created',
    tieBreaker: other,
    days: { table: 'follow_days', owner: 'followed_id', ownerValue: user, count: 'followers' },
    slot,
  });

  const viewer = slot('viewer', '::int');
  const status = `CASE WHEN ${viewer} IS NOT NULL AND o.user_id <> ${viewer} AND EXISTS (
      SELECT 1 FROM follows v WHERE v.follower_id = ${viewer} AND v.followed_id = o.user_id) THEN '"followed"' ELSE 'null' END`;
  const count =
    filter === 'all'
      ? `x.${list === 'followers' ? 'followers_count' : 'followings_count'}`
      : `(SELECT count(*) FROM follows f WHERE ${where})::int`;
  // ETag inputs (http/etag.ts, migration 0016): the owner's graph version and the newest stored
  // JSON on the page; the route adds the viewer's. The tag statement reads only these.
  const versions = `x.graph_version AS owner_version,
      (SELECT max(o.json_version) FROM page p JOIN user_json o ON o.user_id = p.other_id) AS items_version,
      (SELECT string_agg(p.other_id::text, ',') FROM page p) AS item_ids`;
  const owner = `x AS (SELECT followers_count, followings_count, graph_version FROM users WHERE id = ${user} AND is_active)`;
  if (tagOnly) {
    // The viewer is a parameter of every statement of a list (the statuses); named here too, so it has a type.
    // A subquery, not a materialized CTE: about 40 µs of PostgreSQL CPU less (see request-pages.ts).
    const text = `
      SELECT ${count} AS count, x.graph_version AS owner_version, i.items_version, i.item_ids,
        ${slot('viewer', '::int')} AS viewer
      FROM users x CROSS JOIN LATERAL (
        SELECT max(o.json_version) AS items_version, string_agg(p.other_id::text, ',') AS item_ids
        FROM (${page}) p JOIN user_json o ON o.user_id = p.other_id) i
      WHERE x.id = ${user} AND x.is_active`;
    return { name: `kith_tag_${list}_${shape}_${filter}`, text, slots };
  }
  const text = `
    WITH page AS MATERIALIZED (${page}),
         ${owner}
    SELECT ${count} AS count, ${versions},
      (SELECT string_agg(o.follow_head || ${status} || o.follow_tail, ',' ORDER BY p.created DESC, p.other_id DESC)
       FROM page p JOIN user_json o ON o.user_id = p.other_id) AS items$bytes,
      (SELECT (extract(epoch FROM p.created) * 1000000)::bigint || '.' || p.other_id
       FROM page p ORDER BY p.created, p.other_id LIMIT 1) AS last
    FROM x`;
  return { name: `kith_page_${list}_${shape}_${filter}`, text, slots };
}

const statements = new Map<string, PageStatement>();

function statementFor(query: FollowPageQuery, tagOnly = false): PageStatement {
  const filter: Filter = query.mutual === undefined ? 'all' : query.mutual ? 'mutual' : 'other';
  const shape: Shape =
    query.after && filter === 'all'
      ? 'after_cursor'
      : query.list === 'followers' && filter === 'all' && query.offset >= DAYS_FROM_OFFSET
        ? 'by_day'
        : 'from_start';
  const key = `${query.list}/${shape}/${filter}/${tagOnly}`;
  let statement = statements.get(key);
  if (!statement) {
    statement = pageStatement(query.list, shape, filter, tagOnly);
    statements.set(key, statement);
  }
  return statement;
}

/** The statement a follow page costs, and its parameters by `$n` (the benchmark replays it). */
export function followPageStatement(query: FollowPageQuery): { sql: string; slots: string[] } {
  const { text, slots } = statementFor(query);
  return { sql: text, slots };
}

/**
 * A page of a member's followers or followings, newest follow first, as JSON text built by
 * PostgreSQL in one named statement; null when the member is missing or inactive. Unfiltered pages
 * cost the same at any depth: a cursor seeks, and a deep offset into followers first finds its day
 * from the per-day counts.
 */
export async function followPage(db: Kysely<DB>, query: FollowPageQuery): Promise<JsonPage | null> {
  const row = await runPageStatement<keyof Params, PageRow>(db, statementFor(query), paramsOf(query));
  if (!row) return null;
  const seekable = query.mutual === undefined;
  return {
    count: row.count,
    items: row.items$bytes ?? '',
    last: seekable ? parseRowCursor(row.last) : null,
    versions: versionsOf(row),
  };
}

/**
 * The ETag inputs of the page `followPage` would answer, in one small named statement on the same
 * index rows (no JSON built or sent); null when the member is missing or inactive.
 */
export async function followPageVersions(db: Kysely<DB>, query: FollowPageQuery): Promise<PageVersions | null> {
  const row = await runPageStatement<keyof Params, TagRow>(db, statementFor(query, true), paramsOf(query));
  return row ? versionsOf(row) : null;
}

const versionsOf = (row: TagRow): PageVersions => ({
  owner: row.owner_version,
  count: row.count,
  items: row.items_version,
  itemIds: row.item_ids,
});

function paramsOf(query: FollowPageQuery): Params {
  return {
    user: query.userId,
    viewer: query.viewerId,
    limit: query.limit,
    offset: query.offset,
    micros: query.after?.micros ?? null,
    afterId: query.after?.id ?? null,
  };
}
