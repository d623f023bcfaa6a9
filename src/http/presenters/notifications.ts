import type { FastifyRequest } from 'fastify';
import { type NotificationRecord, presentNotificationGroup } from '../../contracts/notification.js';
import type { GraphMode } from '../../contracts/user.js';

/** The request's own absolute URL with the cursor parameter replaced by `key=id`. */
function link(request: FastifyRequest, key: 'next_id' | 'previous_id', id: number) {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.delete('next_id');
  url.searchParams.delete('previous_id');
  url.searchParams.set(key, String(id));
  return url.toString();
}

/** A page of notifications with its `next` (older) and `previous` (newer) links, null at either end. */
export function presentNotificationPage(
  request: FastifyRequest,
  page: { rows: NotificationRecord[]; hasOlder: boolean; hasNewer: boolean },
  mode: GraphMode,
) {
  const first = page.rows[0];
  const last = page.rows.at(-1);
  return {
    next: page.hasOlder && last ? link(request, 'next_id', last.id) : null,
    previous: page.hasNewer && first ? link(request, 'previous_id', first.id) : null,
    results: page.rows.map((row) => presentNotificationGroup(row, mode)),
  };
}
