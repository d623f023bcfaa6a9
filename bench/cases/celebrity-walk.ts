import type { CaseWorld, LoadCase } from './case.js';
import { walkList } from './walk.js';

/** Case 4b: the celebrity's received requests walked along `next` links, so every depth is visited through cursors. */
export function celebrityWalk({ dataset, tokens, connections }: CaseWorld): LoadCase {
  const { celebrity } = dataset;
  const celebToken = tokens.get(celebrity.id)!;
  const walk = walkList({
    firstPage: '/api/v2/user/connection/requests/?limit=20',
    total: celebrity.pending,
    connections,
    auth: () => celebToken,
  });
  return {
    id: '4b',
    title: 'received requests, celebrity, following `next` links',
    requests: walk.requests,
    finish: walk.note,
  };
}
