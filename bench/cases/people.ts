import { type CaseWorld, get, type LoadCase, rotate } from './case.js';

/**
 * Finding people and suggestions. The seed names every member `member_<id>` / `Member <id>`, so
 * every name shares the trigrams of "member": the worst case for the trigram index's posting lists,
 * which real names (spread over many trigrams) do not reach.
 */

/** A search case: the typical members in turn, each with the next term. */
function searchCase({ dataset, tokens }: CaseWorld, id: string, title: string, term: (i: number) => string): LoadCase {
  const viewers = dataset.typicalIds;
  return {
    id,
    title: `${title}, limit 20 (${viewers.length} viewers)`,
    requests: () => {
      const next = rotate(viewers);
      let i = 0;
      return [
        {
          setupRequest: (req) => ({
            ...req,
            ...get(`/api/v2/user/search/?user=${term(i++)}&limit=20`, tokens.get(next())!),
          }),
        },
      ];
    },
  };
}

/** The search cases' i-th terms (also read by `npm run bench:search`). */
export const prefixTerm = (i: number) => `member_${1000 + ((i * 7919) % 2000)}`;
export const substringTerm = (i: number) => `${100000 + ((i * 7919) % 200000)}`;

/**
 * search-prefix: a username prefix that matches 111 members (`member_1234` → member_1234,
 * member_12340…, member_123400…), at 300k and at 1m alike: the prefixes are 1000–2999, whose
 * six-digit names are all below 300,000. (Before round five 1000–9999: most matched 11 at 300k.)
 */
export function searchPrefix(world: CaseWorld): LoadCase {
  return searchCase(world, 'search-prefix', 'search by prefix (user=member_NNNN, 111 matches)', prefixTerm);
}

/**
 * search-substring: six digits from the middle of a name (`134567` → member_134567, Member 134567).
 * Every term names one member at 300k and at 1m alike (ids 100000–299999), so the two datasets'
 * runs ask the same work of everything but the indexes, which hold more names at 1m. (Five-digit
 * terms, before round five, matched about 3 members at 300k and 20 at 1m.)
 */
export function searchSubstring(world: CaseWorld): LoadCase {
  return searchCase(world, 'search-substring', 'search by substring (user=NNNNNN, one member)', substringTerm);
}

/** suggest: the first page of suggestions of each of the typical members. */
export function suggestTypical({ dataset, tokens }: CaseWorld): LoadCase {
  const viewers = dataset.typicalIds;
  return {
    id: 'suggest',
    title: `suggestions, first page, limit 20 (${viewers.length} members)`,
    requests: () => {
      const next = rotate(viewers);
      return [
        { setupRequest: (req) => ({ ...req, ...get('/api/v2/suggestion/user/?limit=20', tokens.get(next())!) }) },
      ];
    },
  };
}

/** suggest-hub: the suggestions of the best-connected member. */
export function suggestHub({ dataset, tokens }: CaseWorld): LoadCase {
  const { hub } = dataset;
  return {
    id: 'suggest-hub',
    title: `suggestions of the best-connected member (${hub.connections} connections), limit 20`,
    requests: () => [get('/api/v2/suggestion/user/?limit=20', tokens.get(hub.id)!)],
  };
}
