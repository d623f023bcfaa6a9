import type { LoadCase } from './case.js';

/** Case 1, the floor: the cheapest route, no database, no token. Every other case is compared with it. */
export function healthz(): LoadCase {
  return { id: '1', title: 'floor: GET /healthz', requests: () => [{ method: 'GET', path: '/healthz' }] };
}
