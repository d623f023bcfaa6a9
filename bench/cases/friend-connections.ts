import { type CaseWorld, get, type LoadCase, rotate } from './case.js';

/** Case 5: a friend's connections, mutual ones first, as each of many members sees them. */
export function friendConnections({ dataset, tokens }: CaseWorld): LoadCase {
  const pairs = dataset.friendPairs;
  return {
    id: '5',
    title: `connections of a friend, mutual ones first, limit 20 (${pairs.length} viewers)`,
    requests: () => {
      const next = rotate(pairs);
      return [
        {
          setupRequest: (req) => {
            const p = next();
            return { ...req, ...get(`/api/v2/user/${p.target}/connections/?limit=20`, tokens.get(p.viewer)!) };
          },
        },
      ];
    },
  };
}
