import { type CaseWorld, get, type LoadCase } from './case.js';

/** Case 3: the celebrity's first page of received requests. */
export function celebrityFirstPage({ dataset, tokens }: CaseWorld): LoadCase {
  const { celebrity } = dataset;
  return {
    id: '3',
    title: `received requests, celebrity (${celebrity.pending}), offset 0`,
    requests: () => [get('/api/v2/user/connection/requests/?limit=20', tokens.get(celebrity.id)!)],
  };
}

/** Case 4: a deep page of the celebrity's requests, reached by offset (90% of the way down). */
export function celebrityDeepPage({ dataset, tokens }: CaseWorld): LoadCase {
  const { celebrity } = dataset;
  const deep = Math.floor((celebrity.pending * 0.9) / 20) * 20;
  return {
    id: '4',
    title: `received requests, celebrity, offset ${deep} (90%)`,
    requests: () => [get(`/api/v2/user/connection/requests/?limit=20&offset=${deep}`, tokens.get(celebrity.id)!)],
  };
}
