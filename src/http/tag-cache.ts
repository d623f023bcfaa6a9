import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VersionChange } from '../db/version-feed.js';
import { matches, notModified } from './etag.js';

/** What a remembered tag derives from. */
export interface TagDependencies {
  /** The members the answer derives from: the viewer, the list's owner, the page's items. */
  readonly members: readonly number[];
  /** The viewer's `tokens_not_before` when the tag was given (0: anonymous): older tokens are refused. */
  readonly notBefore: number;
}

interface Entry {
  readonly tag: string;
  readonly members: Int32Array;
  readonly notBefore: number;
  /** The position the request that read it started at: current while no member changed after it. */
  readonly at: number;
}

/** The barrier `caughtUp` of db/version-feed.ts. */
export interface Barrier {
  caughtUp(): Promise<boolean>;
  readonly isLive: boolean;
}

export interface TagCacheCounters {
  hits: number;
  misses: number;
}

/**
 * Free re-reads without the database: the tags this process gave out, remembered with the members
 * each one derives from, forgotten as soon as any of them changes (migration 0020 announces every
 * change on `kith_versions`, db/version-feed.ts hears it). A conditional request whose tag is still
 * remembered answers 304 after the feed's barrier — one NOTIFY round trip on the LISTEN connection,
 * shared by every request that arrived meanwhile — so no change committed before the request, in
 * any process, is hidden behind it; anything else goes the database's way (etag.ts).
 *
 * What a remembered tag stands for: the answer to this method and URL, as sent, on this origin, for
 * this token's member (or nobody), with the gate's admission of them — which derives from their own
 * row, a dependency, and the community settings, whose change forgets everything.
 *
 * The remembered tags and when their members last changed. A tag is current while none of its
 * members changed after the request that read it started; checked when it is asked for, so a change
 * costs a map write per member, whoever remembers them. Bounded: the oldest tag is forgotten first,
 * and the change positions of only the last `4 × maxEntries` members changed are kept (a tag older
 * than the oldest position forgotten counts as changed). Measured: 50,000 tags of 22 members take
 * 35 MB, the 200,000 change positions kept with them 7 MB.
 */
export class TagCache {
  private readonly entries = new Map<string, Entry>();
  /** Position (count of changes heard) of each member's last change, the newest last. */
  private readonly changedAt = new Map<number, number>();
  /** What a member not in `changedAt` counts as: the position of the newest forgotten change. */
  private forgottenAt = 0;
  /** Changes heard so far. */
  private position = 0;
  readonly counters: TagCacheCounters = { hits: 0, misses: 0 };

  constructor(
    private readonly barrier: Barrier,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Where the changes stand: taken when a request starts, before it reads anything. */
  get now(): number {
    return this.position;
  }

  /** A change heard on the feed. */
  changed(change: VersionChange): void {
    if (change === 'all') {
      this.forgetAll();
      return;
    }
    this.position += 1;
    for (const id of change) {
      this.changedAt.delete(id);
      this.changedAt.set(id, this.position);
    }
    while (this.changedAt.size > 4 * this.maxEntries) {
      const [oldest, at] = this.changedAt.entries().next().value as [number, number];
      this.changedAt.delete(oldest);
      this.forgottenAt = at;
    }
  }

  /** The feed went down or came back, or everything changed: nothing remembered holds. */
  forgetAll(): void {
    this.position += 1;
    this.entries.clear();
    this.changedAt.clear();
    this.forgottenAt = this.position;
  }

  /**
   * Remembers `tag` for `key`, read by a request that started at `since` (its `now`), unless one of
   * its members has changed since: what the request read may predate that change.
   */
  remember(key: string, since: number, tag: string, deps: TagDependencies): void {
    if (!this.barrier.isLive || this.maxEntries === 0) return;
    // The same answer again (a page read over and over): what is remembered holds already.
    const known = this.entries.get(key);
    if (known && known.tag === tag && known.notBefore === deps.notBefore && this.holds(known)) return;
    const entry = { tag, members: Int32Array.from(deps.members), notBefore: deps.notBefore, at: since };
    if (!this.holds(entry)) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /**
   * The tag remembered for `key` if it is still current once every change committed so far has been
   * heard, and a token issued at `issuedAt` (Unix seconds) still works; undefined otherwise.
   */
  async current(key: string, issuedAt: number): Promise<string | undefined> {
    if (!this.entries.has(key) || !(await this.barrier.caughtUp())) {
      this.counters.misses += 1;
      return undefined;
    }
    const entry = this.entries.get(key);
    if (!entry || !this.holds(entry)) {
      if (entry) this.entries.delete(key);
      this.counters.misses += 1;
      return undefined;
    }
    if (issuedAt < entry.notBefore) {
      this.counters.misses += 1;
      return undefined;
    }
    this.counters.hits += 1;
    return entry.tag;
  }

  /** No member of the entry changed after the request that read it started. */
  private holds(entry: Entry): boolean {
    if (this.forgottenAt > entry.at) return false;
    for (const id of entry.members) if ((this.changedAt.get(id) ?? 0) > entry.at) return false;
    return true;
  }
}

/** A request's key in the cache: what its answer's identity is, as sent (see `TagCache`). */
export function tagKey(request: FastifyRequest): string {
  return `${request.method} ${request.protocol}://${request.host}${request.url} ${request.tokenUserId ?? '-'}`;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's remembered tags; null when off (KITH_TAG_CACHE_ENTRIES=0, or no feed). */
    tagCache: TagCache | null;
  }
  interface FastifyRequest {
    /** `tagCache.now` when the request started. */
    tagSince: number;
  }
}

/**
 * The gate's shortcut for a conditional request of a tagged route: 304 from the remembered tag when
 * it names it, before anything is read. False: go on as usual.
 */
export async function answeredFromCache(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const cache = request.server.tagCache;
  if (!cache || !request.routeOptions.config.etag || typeof request.headers['if-none-match'] !== 'string') {
    return false;
  }
  const tag = await cache.current(tagKey(request), request.tokenIssuedAt);
  if (tag === undefined || !matches(request, tag)) return false;
  void notModified(reply, tag);
  return true;
}
