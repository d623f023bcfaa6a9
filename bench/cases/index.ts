/** The bench's cases, in the order they run and are reported. */
import type { CaseWorld, LoadCase } from './case.js';
import { celebrityDeepPage, celebrityFirstPage } from './celebrity.js';
import { celebrityWalk } from './celebrity-walk.js';
import { followersDeepPage, followersFirstPage, followersWalk } from './followers.js';
import { friendConnections } from './friend-connections.js';
import { healthz } from './healthz.js';
import { searchPrefix, searchSubstring, suggestHub, suggestTypical } from './people.js';
import { receivedRequests } from './received-requests.js';
import { friendConnectionsNotModified, receivedRequestsNotModified } from './revalidate.js';
import { statuses } from './statuses.js';
import { writeMix } from './write-mix.js';

const CASES: Array<{ id: string; make: (world: CaseWorld) => LoadCase }> = [
  { id: '1', make: healthz },
  { id: '2', make: receivedRequests },
  { id: '2-304', make: receivedRequestsNotModified },
  { id: '3', make: celebrityFirstPage },
  { id: '4', make: celebrityDeepPage },
  { id: '4b', make: celebrityWalk },
  { id: '5', make: friendConnections },
  { id: '5-304', make: friendConnectionsNotModified },
  { id: '6', make: statuses },
  // In follow mode, each switching it on and back (the follow lists answer only there).
  { id: '8', make: followersFirstPage },
  { id: '9', make: followersDeepPage },
  { id: '9b', make: followersWalk },
  // Finding people and suggestions (friendship mode, as the dataset is left).
  { id: 'search-prefix', make: searchPrefix },
  { id: 'search-substring', make: searchSubstring },
  { id: 'suggest', make: suggestTypical },
  { id: 'suggest-hub', make: suggestHub },
  // Last: it writes (and then undoes its writes), so no read case runs against a changed dataset.
  { id: '7', make: writeMix },
];

/** Builds the selected cases (all when `selected` is null), in running order. */
export function selectCases(world: CaseWorld, selected: Set<string> | null): LoadCase[] {
  return CASES.filter((c) => !selected || selected.has(c.id)).map((c) => c.make(world));
}
