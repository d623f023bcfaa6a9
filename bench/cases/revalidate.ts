import { type CaseWorld, get, type LoadCase, rotate } from './case.js';

/** One re-read: a page's path, the member's authorization, and the ETag their last read returned. */
interface Reread {
  path: string;
  auth: string;
  tag: string;
}

/** Reads each page once (outside the measured run) and keeps its ETag: what a browser's cache holds. */
async function tagsOf(base: string, pages: Array<{ path: string; auth: string }>): Promise<Reread[]> {
  const rereads: Reread[] = [];
  for (const page of pages) {
    const response = await fetch(`${base}${page.path}`, { headers: { authorization: page.auth } });
    await response.arrayBuffer();
    const tag = response.headers.get('etag');
    if (response.status !== 200 || !tag) throw new Error(`${page.path}: ${response.status}, no ETag to revalidate`);
    rereads.push({ ...page, tag });
  }
  return rereads;
}

/** The re-reads as autocannon requests: each with the If-None-Match a browser sends; every answer should be a 304. */
function conditionalRequests(rereads: Reread[]) {
  const next = rotate(rereads);
  return [
    {
      setupRequest: (req: object) => {
        const r = next();
        const request = get(r.path, r.auth);
        return { ...req, ...request, headers: { ...request.headers, 'if-none-match': r.tag } };
      },
    },
  ];
}

/** Case 2-304: case 2's pages read again with If-None-Match naming their ETag (nothing changed: 304). */
export function receivedRequestsNotModified({ dataset, tokens, base }: CaseWorld): LoadCase {
  let rereads: Reread[] = [];
  return {
    id: '2-304',
    title: `received requests re-read, If-None-Match matching (304), ${dataset.typicalIds.length} users`,
    expectStatus: 304,
    setup: async () => {
      const pages = dataset.typicalIds.map((id) => ({
        path: '/api/v2/user/connection/requests/?limit=20',
        auth: tokens.get(id)!,
      }));
      rereads = await tagsOf(base, pages);
    },
    requests: () => conditionalRequests(rereads),
  };
}

/** Case 5-304: case 5's pages read again with If-None-Match naming their ETag (nothing changed: 304). */
export function friendConnectionsNotModified({ dataset, tokens, base }: CaseWorld): LoadCase {
  let rereads: Reread[] = [];
  return {
    id: '5-304',
    title: `connections of a friend re-read, If-None-Match matching (304), ${dataset.friendPairs.length} viewers`,
    expectStatus: 304,
    setup: async () => {
      const pages = dataset.friendPairs.map((p) => ({
        path: `/api/v2/user/${p.target}/connections/?limit=20`,
        auth: tokens.get(p.viewer)!,
      }));
      rereads = await tagsOf(base, pages);
    },
    requests: () => conditionalRequests(rereads),
  };
}
