import { type Kysely, sql } from 'kysely';
import type { PageBytes } from '../pg-bytes.js';
import { prepared } from '../pg-driver.js';
import { connectionStatusSql } from '../repositories/users.js';
import type { DB } from '../schema.js';
import type { JsonPage, PageVersions } from './request-pages.js';

type Window = { mutual: boolean | undefined; limit: number; offset: number };

/** The page's rows (`friend_id`, `created`, `mutual`) and the list's total, for one viewer and window. */
function pageParts(viewerId: number | null, window: Window) {
  const { mutual, limit, offset } = window;
  const isMutual =
    viewerId === null
      ? sql<boolean>`false`
      : sql<boolean>`EXISTS (SELECT 1 FROM connections m WHERE m.user_id = ${viewerId} AND m.friend_id = c.friend_id)`;
  const filter = mutual === undefined ? sql`true` : mutual ? isMutual : sql`NOT ${isMutual}`;
  const total =
    mutual === undefined
      ? sql<number>`x.connections_count`
      : sql<number>`(SELECT count(*) FROM connections c WHERE c.user_id = x.id AND ${filter})::int`;
  const page = sql`
         SELECT c.friend_id, c.created, ${isMutual} AS mutual
         FROM connections c WHERE c.user_id = x.id AND ${filter}
         ORDER BY mutual DESC, c.created DESC, c.friend_id DESC
         LIMIT ${limit} OFFSET ${offset}`;
  return { page, total };
}

type VersionRow = { count: number; owner_version: string; items_version: string | null; item_ids: string | null };

/**
 * Connections of `userId`: those also connected to the viewer first, then the others, each group
 * newest connection first. `mutual` keeps one group only. Returns the total with the page (stored
 * user JSON with the viewer's status spliced in), in one named statement; null when the user does
 * not exist or is inactive.
 */
export async function connectionsPage(
  db: Kysely<DB>,
  viewerId: number | null,
  userId: number,
  window: Window,
): Promise<JsonPage | null> {
  const { page, total } = pageParts(viewerId, window);
  type Row = VersionRow & { items$bytes: string | PageBytes | null };
  // The items and their newest JSON version in one pass over the page.
  const query = sql<Row>`
    SELECT ${total} AS count, i.items AS items$bytes, x.graph_version AS owner_version, i.items_version, i.item_ids
    FROM users x CROSS JOIN LATERAL (
      SELECT string_agg(j.head || coalesce(to_json(${connectionStatusSql(viewerId, sql`j.user_id`, 'friendship')})::text, 'null')
                        || j.tail, ',' ORDER BY page.mutual DESC, page.created DESC, page.friend_id DESC) AS items,
             max(j.json_version) AS items_version, string_agg(page.friend_id::text, ',') AS item_ids
      FROM (${page}) page JOIN user_json j ON j.user_id = page.friend_id) i
    WHERE x.id = ${userId} AND x.is_active`;
  const { rows } = await db.executeQuery<Row>(prepared(query.compile(db)));
  const row = rows[0];
  if (!row) return null;
  return { count: row.count, items: row.items$bytes ?? '', last: null, versions: versionsOf(row) };
}

/**
 * ETag inputs (http/etag.ts, migration 0016): the owner's graph version (their connections) and
 * the newest stored JSON on the page; the route adds the viewer's (the statuses, the mutual order).
 * The ETag inputs of the page `connectionsPage` would answer, in one small named statement on the
 * same index rows (no JSON built or sent); null when the user does not exist or is inactive.
 */
export async function connectionsPageVersions(
  db: Kysely<DB>,
  viewerId: number | null,
  userId: number,
  window: Window,
): Promise<PageVersions | null> {
  const { page, total } = pageParts(viewerId, window);
  const query = sql<VersionRow>`
    SELECT ${total} AS count, x.graph_version AS owner_version, i.items_version, i.item_ids
    FROM users x CROSS JOIN LATERAL (
      SELECT max(j.json_version) AS items_version, string_agg(page.friend_id::text, ',') AS item_ids
      FROM (${page}) page JOIN user_json j ON j.user_id = page.friend_id) i
    WHERE x.id = ${userId} AND x.is_active`;
  const { rows } = await db.executeQuery<VersionRow>(prepared(query.compile(db)));
  const row = rows[0];
  return row ? versionsOf(row) : null;
}

const versionsOf = (row: VersionRow): PageVersions => ({
  owner: row.owner_version,
  count: row.count,
  items: row.items_version,
  itemIds: row.item_ids,
});
