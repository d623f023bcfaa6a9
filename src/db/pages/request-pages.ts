import type { Kysely } from 'kysely';
import type { PageBytes } from '../pg-bytes.js';
import { COMMUNITY_COLUMNS, type Community, readCommunity } from '../repositories/users.js';
import type { DB } from '../schema.js';
import {
  type PageStatement as FixedPageStatement,
  pageSql,
  parameterSlots,
  runPageStatement,
  type Shape,
} from './page-shapes.js';

/** Where a page of a request list starts: after this row (its `created` in epoch microseconds). */
export interface RowCursor {
  micros: string;
  id: number;
}

/** A page as JSON text: the list's total, the items ready to go inside `[...]`, where it ended. */
export interface JsonPage {
  /** The list's total. */
  count: number;
  /**
   * The page's items as JSON objects joined by commas ('' when empty): from PostgreSQL as the bytes
   * it sent (`PageBytes`, see pg-bytes.ts), from PGlite as text.
   */
  items: string | PageBytes;
  /** The last row of the page, to seek from for the next one; null when the page is empty or unseekable. */
  last: RowCursor | null;
  /** What the page's ETag is derived from, read with the page (see `PageVersions`). */
  versions: PageVersions;
}

/**
 * A page's ETag inputs (migration 0016): the list owner's graph version, the list's total, and the
 * highest stored-JSON version among its items (null: an empty page). A tag statement reads the
 * same three without building the page.
 */
export interface PageVersions {
  owner: string;
  count: number;
  items: string | null;
  /** The page's items' member ids, comma-separated (null: an empty page): what the tag cache watches. */
  itemIds: string | null;
}

/** A tag statement's row: the page's versions and, for the request lists, the viewer's standing. */
export interface ViewerPageVersions extends PageVersions {
  community: Community;
  /** The viewer's `tokens_not_before`, for the gate to refuse a token that predates their last withdrawal. */
  tokens_not_before: number;
}

export type RequestList = 'pending' | 'rejected' | 'sent';

export interface RequestPageQuery {
  list: RequestList;
  limit: number;
  offset: number;
  /** Seek past this row instead of skipping `offset` rows. */
  after?: RowCursor | undefined;
}

/** A page of a request list with its viewer's standing: the community settings, read in the same statement. */
export interface ViewerPage extends JsonPage {
  community: Community;
  /** The viewer's `tokens_not_before`, for the gate to refuse a token that predates their last withdrawal. */
  tokens_not_before: number;
}

/** Below this offset a plain index walk is as cheap as the per-day counts. */
const DAYS_FROM_OFFSET = 2000;

type Params = { viewer: number; limit: number; offset: number; micros: string | null; afterId: number | null };
type TagRow = {
  count: number;
  tokens_not_before: number;
  owner_version: string;
  items_version: string | null;
  item_ids: string | null;
  pref_follow_enabled: unknown;
  pref_content_availability: unknown;
};
type PageRow = TagRow & {
  count: number;
  items$bytes: string | PageBytes | null;
  last: string | null;
  pref_follow_enabled: unknown;
  pref_content_availability: unknown;
};

type PageStatement = FixedPageStatement<keyof Params>;

const iso = (column: string) => `coalesce('"' || kith_iso(${column}) || '"', 'null')`;

/** The list's condition on `connection_requests r` and the SQL of one page of its rows, in one shape. */
function listRows(list: RequestList, shape: Shape, slot: (name: keyof Params, cast?: string) => string) {
  const viewer = slot('viewer');
  const filter =
    list === 'pending'
      ? `r.to_user_id = ${viewer} AND r.rejected IS NULL AND NOT r.withheld`
      : list === 'rejected'
        ? `r.to_user_id = ${viewer} AND r.rejected IS NOT NULL`
        : `r.from_user_id = ${viewer}`;
  const other = list === 'sent' ? 'r.to_user_id' : 'r.from_user_id';
  const page = pageSql(shape, {
    from: 'connection_requests r',
    columns: `r.id, r.created, ${other} AS other_id, r.viewed${list === 'rejected' ? ', r.rejected' : ''}`,
    where: filter,
    created: 'r.created',
    tieBreaker: 'r.id',
    days: { table: 'connection_request_days', owner: 'to_user_id', ownerValue: viewer, count: 'pending' },
    slot,
  });
  return { filter, page };
}

/**
 * The text of one list's page statement in one shape. Everything a page shows of a request is in
 * the list's covering index (migration 0006), the users come from their stored JSON (user_json,
 * rendered by the application), and the viewer and the community settings are read in the same
 * statement: no row at all when the viewer is missing or inactive. The received list leaves out
 * the requests of members the viewer hides (withheld, migration 0013): its index, per-day counts
 * and counter leave them out too, so counts and deep offsets stay exact; the sent list shows them.
 */
function pageStatement(list: RequestList, shape: Shape): PageStatement {
  const { slots, slot } = parameterSlots<keyof Params>();
  const viewer = slot('viewer');
  const { filter, page } = listRows(list, shape, slot);
  const order = 'ORDER BY r.created DESC, r.id DESC';

  const status =
    list === 'sent' ? `'"sent_connection_request"'` : list === 'pending' ? `'"received_connection_request"'` : `'null'`;
  const otherJson = `o.head || ${status} || o.tail`;
  const [fromUser, toUser] = list === 'sent' ? ['v.json', otherJson] : [otherJson, 'v.json'];
  const rejected = list === 'rejected' ? iso('r.rejected') : `'null'`;
  const count = countSql(list, filter);

  const text = `
    WITH page AS MATERIALIZED (${page}),
         v AS (SELECT j.head || 'null' || j.tail AS json, v.requests_received_count, v.requests_sent_count,
                      v.tokens_not_before, v.graph_version
               FROM users v JOIN user_json j ON j.user_id = v.id WHERE v.id = ${viewer} AND v.is_active)
    SELECT ${count} AS count,
      (SELECT string_agg('{"id":' || r.id || ',"from_user":' || ${fromUser} || ',"to_user":' || ${toUser}
                         || ',"created":"' || kith_iso(r.created) || '","rejected":' || ${rejected}
                         || ',"viewed":' || ${iso('r.viewed')} || '}', ',' ${order})
       FROM page r JOIN user_json o ON o.user_id = r.other_id) AS items$bytes,
      (SELECT (extract(epoch FROM p.created) * 1000000)::bigint || '.' || p.id
       FROM page p ORDER BY p.created, p.id LIMIT 1) AS last,
      v.tokens_not_before,
      ${TAG_COLUMNS},
      ${COMMUNITY_COLUMNS}
    FROM v`;
  return { name: `kith_page_${list}_${shape}`, text, slots };
}

/** The list's total, from the viewer's counter (`v`) where it keeps one. */
function countSql(list: RequestList, filter: string): string {
  return list === 'pending'
    ? 'v.requests_received_count'
    : list === 'sent'
      ? 'v.requests_sent_count'
      : `(SELECT count(*) FROM connection_requests r WHERE ${filter})::int`;
}

// ETag inputs (http/etag.ts), read by the page statement and by the tag statement alike: the
// viewer's graph version (their requests, their own JSON in every item) and the newest stored JSON
// among the page's other members (migration 0016).
const TAG_COLUMNS = `v.graph_version AS owner_version,
      (SELECT max(o.json_version) FROM page r JOIN user_json o ON o.user_id = r.other_id) AS items_version,
      (SELECT string_agg(r.other_id::text, ',') FROM page r) AS item_ids`;

/**
 * The tag statement of one list in one shape: the same page walk on the list's index, one small row
 * (the ETag inputs, the viewer's standing and the settings), no JSON built or sent. No row when the
 * viewer is missing or inactive.
 */
function tagStatement(list: RequestList, shape: Shape): PageStatement {
  const { slots, slot } = parameterSlots<keyof Params>();
  const viewer = slot('viewer');
  const { filter, page } = listRows(list, shape, slot);
  // No CTE here: a materialized CTE costs about 40 µs of PostgreSQL CPU more per statement than the
  // same walk as a subquery (pgbench -M prepared, 56 vs 100 µs per statement on the bench dataset).
  const text = `
    SELECT ${countSql(list, filter)} AS count, v.tokens_not_before, v.graph_version AS owner_version,
      i.items_version, i.item_ids, ${COMMUNITY_COLUMNS}
    FROM users v CROSS JOIN LATERAL (
      SELECT max(o.json_version) AS items_version, string_agg(r.other_id::text, ',') AS item_ids
      FROM (${page}) r JOIN user_json o ON o.user_id = r.other_id) i
    WHERE v.id = ${viewer} AND v.is_active`;
  return { name: `kith_tag_${list}_${shape}`, text, slots };
}

const statements = new Map<string, PageStatement>();

/** The statement that serves a query: its list and shape (cursor, deep offset, or neither), built once. */
function statementFor(query: RequestPageQuery): PageStatement {
  const { list, shape } = shapeOf(query);
  const key = `${list}/${shape}`;
  let statement = statements.get(key);
  if (!statement) {
    statement = pageStatement(list, shape);
    statements.set(key, statement);
  }
  return statement;
}

/** A query's list and shape: after a cursor, a deep offset by per-day counts, or from the start. */
function shapeOf(query: RequestPageQuery): { list: RequestList; shape: Shape } {
  const shape: Shape = query.after
    ? 'after_cursor'
    : query.list === 'pending' && query.offset >= DAYS_FROM_OFFSET
      ? 'by_day'
      : 'from_start';
  return { list: query.list, shape };
}

function paramsOf(viewerId: number, query: RequestPageQuery): Params {
  return {
    viewer: viewerId,
    limit: query.limit,
    offset: query.offset,
    micros: query.after?.micros ?? null,
    afterId: query.after?.id ?? null,
  };
}

/** The one statement a page of a request list costs, and its parameters by `$n` (the benchmark replays it). */
export function requestPageStatement(query: RequestPageQuery): { sql: string; slots: string[] } {
  const { text, slots } = statementFor(query);
  return { sql: text, slots };
}

/**
 * A page of one of my request lists, newest first, as JSON text built by PostgreSQL in one named
 * statement that also loads me: undefined when I am missing or inactive. Only the page's rows are
 * read: the page is chosen on the list's index alone (an index-only scan, or a seek with `after`),
 * and a deep offset into pending requests first finds its day from the per-day counts.
 */
export async function requestPage(
  db: Kysely<DB>,
  viewerId: number,
  query: RequestPageQuery,
): Promise<ViewerPage | undefined> {
  const statement = statementFor(query);
  const row = await runPageStatement<keyof Params, PageRow>(db, statement, paramsOf(viewerId, query));
  if (!row) return undefined;
  return {
    count: row.count,
    items: row.items$bytes ?? '',
    last: parseRowCursor(row.last),
    versions: versionsOf(row),
    community: readCommunity(row),
    tokens_not_before: row.tokens_not_before,
  };
}

const versionsOf = (row: TagRow): PageVersions => ({
  owner: row.owner_version,
  count: row.count,
  items: row.items_version,
  itemIds: row.item_ids,
});

const tagStatements = new Map<string, PageStatement>();

/**
 * The ETag inputs of the page `requestPage` would answer, and the viewer's standing, in one small
 * named statement that walks the same index rows and builds no JSON: undefined when I am missing
 * or inactive.
 */
export async function requestPageVersions(
  db: Kysely<DB>,
  viewerId: number,
  query: RequestPageQuery,
): Promise<ViewerPageVersions | undefined> {
  const { list, shape } = shapeOf(query);
  const key = `${list}/${shape}`;
  let statement = tagStatements.get(key);
  if (!statement) {
    statement = tagStatement(list, shape);
    tagStatements.set(key, statement);
  }
  const row = await runPageStatement<keyof Params, TagRow>(db, statement, paramsOf(viewerId, query));
  if (!row) return undefined;
  return { ...versionsOf(row), community: readCommunity(row), tokens_not_before: row.tokens_not_before };
}

/** Reads the "micros.id" form the page statement returns (and cursors carry); null when malformed. */
export function parseRowCursor(text: string | null | undefined): RowCursor | null {
  if (!text) return null;
  const match = /^(-?\d{1,18})\.(\d{1,10})$/.exec(text);
  if (!match) return null;
  const id = Number(match[2]);
  if (id < 1 || id > 2_147_483_647) return null;
  return { micros: match[1]!, id };
}
