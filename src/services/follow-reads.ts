import type { Database } from '../db/database.js';
import { type FollowList, followPage, followPageVersions } from '../db/pages/follow-pages.js';
import type { JsonPage, PageVersions, RowCursor } from '../db/pages/request-pages.js';
import { notFound } from '../domain/errors.js';

/** A page of a member's followers or followings as the viewer sees them; 404 for an unknown member. */
export async function followList(
  db: Database,
  list: FollowList,
  viewerId: number | null,
  userId: number,
  window: { mutual: boolean | undefined; limit: number; offset: number; after: RowCursor | undefined },
): Promise<JsonPage> {
  const page = await followPage(db, { list, userId, viewerId, ...window });
  if (!page) throw notFound('User not found.');
  return page;
}

/** What the page `followList` would answer is derived from, without building it; 404 for an unknown member. */
export async function followListVersions(
  db: Database,
  list: FollowList,
  viewerId: number | null,
  userId: number,
  window: { mutual: boolean | undefined; limit: number; offset: number; after: RowCursor | undefined },
): Promise<PageVersions> {
  const versions = await followPageVersions(db, { list, userId, viewerId, ...window });
  if (!versions) throw notFound('User not found.');
  return versions;
}
