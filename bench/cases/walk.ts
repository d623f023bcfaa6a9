import type autocannon from 'autocannon';
import { get } from './case.js';

/**
 * The `next` link of a page, read from the head of the body: kith writes count, next and previous
 * before results. Parsing the whole 28 KB page per response cost the load generator more CPU than
 * the rest of its work, on the cores the server and PostgreSQL use.
 */
function nextLinkOf(body: string): string | null {
  const head = /^\{"count":\d+,"next":("(?:[^"\\]|\\.)*"|null),/.exec(body);
  return head ? (JSON.parse(head[1]!) as string | null) : (JSON.parse(body).next as string | null);
}

export interface Walk {
  /** A fresh request list for one autocannon run. */
  requests(): autocannon.Request[];
  /** What the walkers did, for the note under the table. */
  note(): string;
}

/**
 * A list of `total` items walked along `next` links by `connections` walkers: walker k starts at
 * k/C of the list (by offset), then follows `next` to the end and starts over from the first page,
 * so every depth is visited, through cursors. autocannon clears a connection's context after every
 * request of a one-request list, so the walkers live here: a request takes an idle walker and its
 * response puts it back. `auth` gives each new walker its bearer token.
 */
export function walkList(options: { firstPage: string; total: number; connections: number; auth: () => string }): Walk {
  const { firstPage, total, connections } = options;
  let pages = 0;
  let cursorPages = 0;
  let deepest = 0;
  return {
    requests: () => {
      const lastPage = Math.floor((total - 1) / 20) * 20;
      const idle: Array<{ next: string; auth: string }> = [];
      let started = 0;
      const newWalker = () => {
        const start = Math.floor((started++ * total) / connections / 20) * 20;
        return { next: `${firstPage}${start ? `&offset=${Math.min(start, lastPage)}` : ''}`, auth: options.auth() };
      };
      return [
        {
          setupRequest: (req, context: any) => {
            const walker = idle.pop() ?? newWalker();
            context.walker = walker;
            return { ...req, ...get(walker.next, walker.auth) };
          },
          onResponse: (status, body, context: any) => {
            const walker = context.walker as { next: string; auth: string } | undefined;
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
              walker.next = firstPage;
            }
          },
        },
      ];
    },
    note: () =>
      `${pages} pages walked (warm-up included), ${cursorPages} of them reached through a cursor, deepest offset reached ${deepest}`,
  };
}
