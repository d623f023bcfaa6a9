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
  cursor: { before?: number; after?: number },
  limit: number,
) {
  const page = await repo.listNotifications(db, viewerId, cursor, limit);
  const unread = page.rows.filter((row) => row.read_at === null).map((row) => row.id);
  await repo.markRead(db, viewerId, unread);
  return page;
}
