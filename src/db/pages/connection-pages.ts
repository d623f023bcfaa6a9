import { type Kysely, sql } from 'kysely';
import { prepared } from '../pg-driver.js';
import { connectionStatusSql } from '../repositories/users.js';
import type { DB } from '../schema.js';
import type { JsonPage } from './request-pages.js';

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
  window: { mutual: boolean | undefined; limit: number; offset: number },
): Promise<JsonPage | null> {
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
  const query = sql<{ count: number; items: string | null }>`
    SELECT ${total} AS count,
      (SELECT string_agg(j.head || coalesce(to_json(${connectionStatusSql(viewerId, sql`j.user_id`, 'friendship')})::text, 'null')
                         || j.tail, ',' ORDER BY page.mutual DESC, page.created DESC, page.friend_id DESC)
       FROM (
         SELECT c.friend_id, c.created, ${isMutual} AS mutual
         FROM connections c WHERE c.user_id = x.id AND ${filter}
         ORDER BY mutual DESC, c.created DESC, c.friend_id DESC
         LIMIT ${limit} OFFSET ${offset}
       ) page JOIN user_json j ON j.user_id = page.friend_id) AS items
    FROM users x
    WHERE x.id = ${userId} AND x.is_active`;
  const { rows } = await db.executeQuery<{ count: number; items: string | null }>(prepared(query.compile(db)));
  const row = rows[0];
  if (!row) return null;
  return { count: row.count, items: row.items ?? '', last: null };
}
