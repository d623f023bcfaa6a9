import type { CaseWorld, LoadCase } from './case.js';

/** Case 7, the write mix: A requests B, then B accepts, each pair fresh. */
export function writeMix({ dataset, tokens }: CaseWorld): LoadCase {
  const { freshPairs } = dataset;
  let used = 0;
  return {
    id: '7',
    title: 'write mix: A requests B, then B accepts (distinct pairs)',
    requests: () => [
      {
        setupRequest: (req, context: any) => {
          const pair = freshPairs[used++ % freshPairs.length]!;
          context.pair = pair;
          return {
            ...req,
            method: 'POST',
            path: `/api/v2/user/${pair.b}/connection/request/`,
            headers: { authorization: tokens.get(pair.a)!, 'content-type': 'application/json' },
            body: '',
          };
        },
      },
      {
        setupRequest: (req, context: any) => ({
          ...req,
          method: 'POST',
          path: `/api/v2/user/${context.pair.a}/connection/accept/`,
          headers: { authorization: tokens.get(context.pair.b)!, 'content-type': 'application/json' },
          body: '',
        }),
      },
    ],
    finish: () =>
      `${Math.min(used, freshPairs.length)} of ${freshPairs.length} fresh pairs used${used > freshPairs.length ? ' (then reused: idempotent)' : ''}`,
  };
}
