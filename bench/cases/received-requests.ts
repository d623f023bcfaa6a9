import { type CaseWorld, get, type LoadCase, rotate } from './case.js';

/** Case 2: the received-requests list of many ordinary members in turn, first page (what pgbench's floor runs). */
export function receivedRequests({ dataset, tokens }: CaseWorld): LoadCase {
  const { typicalIds, fill } = dataset;
  return {
    id: '2',
    title: `received requests, ${typicalIds.length} users in rotation, limit 20`,
    requests: () => {
      const next = rotate(typicalIds);
      return [
        {
          setupRequest: (req) => ({
            ...req,
            ...get('/api/v2/user/connection/requests/?limit=20', tokens.get(next())!),
          }),
        },
      ];
    },
    finish: () =>
      `${fill.full} of ${typicalIds.length} users have a full page; ${fill.avg.toFixed(1)} results per page on average; ` +
      `a median of ${fill.medianConnections} connections`,
  };
}
