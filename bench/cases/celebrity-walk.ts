import { type CaseWorld, get, type LoadCase } from './case.js';

const FIRST_PAGE = '/api/v2/user/connection/requests/?limit=20';

/**
 * The `next` link of a page, read from the head of the body: kith writes count, next and previous
 * before results. Parsing the whole 28 KB page per response cost the load generator more CPU than
 * the rest of its work, on the cores the server and PostgreSQL use.
 */
function nextLinkOf(body: string): string | null {
  const head = /^\{"count":\d+,"next":("(?:[^"\\]|\\.)*"|null),/.exec(body);
  return head ? (JSON.parse(head[1]!) as string | null) : (JSON.parse(body).next as string | null);
}

/** Case 4b: the celebrity's received requests walked along `next` links, so every depth is visited through cursors. */
export function celebrityWalk({ dataset, tokens, connections }: CaseWorld): LoadCase {
  const { celebrity } = dataset;
  const celebToken = tokens.get(celebrity.id)!;
  let pages = 0;
  let cursorPages = 0;
  let deepest = 0;
  return {
    id: '4b',
    title: 'received requests, celebrity, following `next` links',
    requests: () => {
      // C walkers: walker k starts at k/C of the list, then follows `next` to the end and
      // starts over from the first page: every depth is visited, through cursors. autocannon
      // clears a connection's context after every request of a one-request list, so the
      // walkers live here: a request takes an idle walker and its response puts it back.
      const lastPage = Math.floor((celebrity.pending - 1) / 20) * 20;
      const idle: Array<{ next: string }> = [];
      let started = 0;
      const newWalker = () => {
        const start = Math.floor((started++ * celebrity.pending) / connections / 20) * 20;
        return { next: `${FIRST_PAGE}${start ? `&offset=${Math.min(start, lastPage)}` : ''}` };
      };
      return [
        {
          setupRequest: (req, context: any) => {
            const walker = idle.pop() ?? newWalker();
            context.walker = walker;
            return { ...req, ...get(walker.next, celebToken) };
          },
          onResponse: (status, body, context: any) => {
            const walker = context.walker as { next: string } | undefined;
            if (!walker) return;
            idle.push(walker);
            if (status !== 200) return;
            const next = nextLinkOf(body);
            pages += 1;
            if (next) {
              const url = new URL(next);
              if (url.searchParams.has('cursor')) cursorPages += 1;
              deepest = Math.max(deepest, Number(url.searchParams.get('offset') ?? 0));
              walker.next = url.pathname + url.search;
            } else {
              walker.next = FIRST_PAGE;
            }
          },
        },
      ];
    },
    finish: () =>
      `${pages} pages walked (warm-up included), ${cursorPages} of them reached through a cursor, deepest offset reached ${deepest}`,
  };
}
