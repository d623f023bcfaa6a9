import type { RequestListItem } from '../../db/repositories/connections.js';
import type { Viewer } from '../../db/repositories/users.js';
import { presentUser } from './users.js';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** A request I received, as I see it. */
export function presentReceived(viewer: Viewer, item: RequestListItem) {
  return {
    id: item.id,
    from_user: presentUser(item.other, item.rejected === null ? 'received_connection_request' : null),
    to_user: presentUser(viewer, null),
    created: item.created.toISOString(),
    rejected: iso(item.rejected),
    viewed: iso(item.viewed),
  };
}

/** A request I sent, as I see it: its rejection is never shown to me. */
export function presentSent(viewer: Viewer, item: RequestListItem) {
  return {
    id: item.id,
    from_user: presentUser(viewer, null),
    to_user: presentUser(item.other, 'sent_connection_request'),
    created: item.created.toISOString(),
    rejected: null,
    viewed: iso(item.viewed),
  };
}
