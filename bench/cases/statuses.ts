import { type CaseWorld, type LoadCase, rotate } from './case.js';

/** Case 6: the connection statuses of 100 members around each viewer's own id (a read, though a POST). */
export function statuses({ dataset, tokens }: CaseWorld): LoadCase {
  const bodies = dataset.typicalIds.map((id) => ({
    auth: tokens.get(id)!,
    body: JSON.stringify({ users: Array.from({ length: 100 }, (_, i) => Math.max(2, id - 50) + i) }),
  }));
  return {
    id: '6',
    title: 'POST /api/v2/user/connection/statuses/ with 100 ids',
    requests: () => {
      const next = rotate(bodies);
      return [
        {
          setupRequest: (req) => {
            const b = next();
            return {
              ...req,
              method: 'POST',
              path: '/api/v2/user/connection/statuses/',
              headers: { authorization: b.auth, 'content-type': 'application/json' },
              body: b.body,
            };
          },
        },
      ];
    },
  };
}
