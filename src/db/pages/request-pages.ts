import type { Kysely } from 'kysely';
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
  /** The page's items as JSON objects joined by commas ('' when empty). */
  items: string;
  /** The last row of the page, to seek from for the next one; null when the page is empty or unseekable. */
  last: RowCursor | null;
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
}

/** Below this offset a plain index walk is as cheap as the per-day counts. */
const DAYS_FROM_OFFSET = 2000;

type Params = { viewer: number; limit: number; offset: number; micros: string | null; afterId: number | null };
type PageRow = {
  count: number;
  items: string | null;
  last: string | null;
  pref_follow_enabled: unknown;
  pref_content_availability: unknown;
};

type PageStatement = FixedPageStatement<keyof Params>;

const iso = (column: string) => `coalesce('"' || kith_iso(${column}) || '"', 'null')`;

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
  const filter =
    list === 'pending'
      ? `r.to_user_id = ${viewer} AND r.rejected IS NULL AND NOT r.withheld`
      : list === 'rejected'
        ? `r.to_user_id = ${viewer} AND r.rejected IS NOT NULL`
        : `r.from_user_id = ${viewer}`;
  const order = 'ORDER BY r.created DESC, r.id DESC';
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

  const status =
    list === 'sent' ? `'"sent_connection_request"'` : list === 'pending' ? `'"received_connection_request"'` : `'null'`;
  const otherJson = `o.head || ${status} || o.tail`;
  const [fromUser, toUser] = list === 'sent' ? ['v.json', otherJson] : [otherJson, 'v.json'];
  const rejected = list === 'rejected' ? iso('r.rejected') : `'null'`;
  const count =
    list === 'pending'
      ? 'v.requests_received_count'
      : list === 'sent'
        ? 'v.requests_sent_count'
        : `(SELECT count(*) FROM connection_requests r WHERE ${filter})::int`;

  const text = `
    WITH page AS MATERIALIZED (${page}),
         v AS (SELECT j.head || 'null' || j.tail AS json, v.requests_received_count, v.requests_sent_count
               FROM users v JOIN user_json j ON j.user_id = v.id WHERE v.id = ${viewer} AND v.is_active)
    SELECT ${count} AS count,
      (SELECT string_agg('{"id":' || r.id || ',"from_user":' || ${fromUser} || ',"to_user":' || ${toUser}
                         || ',"created":"' || kith_iso(r.created) || '","rejected":' || ${rejected}
                         || ',"viewed":' || ${iso('r.viewed')} || '}', ',' ${order})
       FROM page r JOIN user_json o ON o.user_id = r.other_id) AS items,
      (SELECT (extract(epoch FROM p.created) * 1000000)::bigint || '.' || p.id
       FROM page p ORDER BY p.created, p.id LIMIT 1) AS last,
      ${COMMUNITY_COLUMNS}
    FROM v`;
  return { name: `kith_page_${list}_${shape}`, text, slots };
}

const statements = new Map<string, PageStatement>();

/** The statement that serves a query: its list and shape (cursor, deep offset, or neither), built once. */
function statementFor(query: RequestPageQuery): PageStatement {
  const shape: Shape = query.after
    ? 'after_cursor'
    : query.list === 'pending' && query.offset >= DAYS_FROM_OFFSET
      ? 'by_day'
      : 'from_start';
  const key = `${query.list}/${shape}`;
  let statement = statements.get(key);
  if (!statement) {
    statement = pageStatement(query.list, shape);
    statements.set(key, statement);
  }
  return statement;
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
  const params: Params = {
    viewer: viewerId,
    limit: query.limit,
    offset: query.offset,
    micros: query.after?.micros ?? null,
    afterId: query.after?.id ?? null,
  };
  const row = await runPageStatement<keyof Params, PageRow>(db, statement, params);
  if (!row) return undefined;
  return { count: row.count, items: row.items ?? '', last: parseRowCursor(row.last), community: readCommunity(row) };
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
