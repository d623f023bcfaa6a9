import type { GraphMode } from '../contracts/user.js';
import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/notifications.js';

/**
 * A page of the member's notifications, newest first; listing marks the page's notifications read
 * (`notification/list_users_notification.md`: SelfCommunity's clients reset their badge by opening
 * the list). The page shows each one as it was before this request, so an unread one still says
 * `is_new: true` once; the next listing, the unseen count and realtime counts see it read.
 */
export async function listNotificationsMarkingRead(
  db: Database,
  viewerId: number,
  query: { next_id?: number | undefined; previous_id?: number | undefined },
  limit: number,
  mode: GraphMode,
) {
  // previous_id takes precedence when both are sent, as the page says.
  const { next_id, previous_id } = query;
  const cursor = previous_id !== undefined ? { after: previous_id } : next_id !== undefined ? { before: next_id } : {};
  const page = await repo.listNotifications(db, viewerId, cursor, limit, mode);
  const unread = page.rows.filter((row) => row.read_at === null).map((row) => row.id);
  await repo.markRead(db, viewerId, unread);
  return page;
}

/** How many of the member's notifications are unread. */
export async function countUnseenNotifications(db: Database, viewerId: number) {
  return repo.countUnseen(db, viewerId);
}

/** Marks the member's notifications with these ids read (ids that are not theirs, or undefined, change nothing). */
export async function markNotificationsRead(db: Database, viewerId: number, ids: ReadonlyArray<number | undefined>) {
  const wanted = new Set(ids.filter((id): id is number => id !== undefined));
  await repo.markRead(db, viewerId, [...wanted]);
}
