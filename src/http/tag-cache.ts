import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VersionChange } from '../db/version-feed.js';
import { matches, notModified } from './etag.js';

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
 */
export interface TagDependencies {
  /** The members the answer derives from: the viewer, the list's owner, the page's items. */
  readonly members: readonly number[];
  /** The viewer's `tokens_not_before` when the tag was given (0: anonymous): older tokens are refused. */
  readonly notBefore: number;
}

interface Entry {
  readonly tag: string;
  readonly members: readonly number[];
  readonly notBefore: number;
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
 * The remembered tags and who they depend on. Bounded: the oldest tag is forgotten first, and only
 * the last `maxEntries` members' change positions are kept (older ones count as changed at the
 * newest forgotten position). Synchronous but for `answer`'s barrier.
 */
export class TagCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byMember = new Map<number, Set<string>>();
  /** Position (count of changes heard) of each member's last change, the newest last. */
  private readonly changedAt = new Map<number, number>();
  /** What a member not in `changedAt` counts as: the position of the newest forgotten change. */
  private forgottenAt = 0;
  /** Changes heard; a request remembers its tag only if none of its members changed after it started. */
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
      const keys = this.byMember.get(id);
      if (keys) for (const key of [...keys]) this.drop(key);
    }
    while (this.changedAt.size > this.maxEntries) {
      const [oldest, at] = this.changedAt.entries().next().value as [number, number];
      this.changedAt.delete(oldest);
      this.forgottenAt = at;
    }
  }

  /** The feed went down or came back: what it would have said meanwhile is unknown. */
  forgetAll(): void {
    this.position += 1;
    this.entries.clear();
    this.byMember.clear();
    this.changedAt.clear();
    this.forgottenAt = this.position;
  }

  /**
   * Remembers `tag` for `key`, unless one of its members changed after `since` (the request's
   * `now` at its start): then what the request read may predate that change.
   */
  remember(key: string, since: number, tag: string, deps: TagDependencies): void {
    if (!this.barrier.isLive || this.maxEntries === 0) return;
    if (this.forgottenAt > since) return;
    for (const id of deps.members) if ((this.changedAt.get(id) ?? 0) > since) return;
    this.drop(key);
    const members = [...new Set(deps.members)];
    this.entries.set(key, { tag, members, notBefore: deps.notBefore });
    for (const id of members) {
      const keys = this.byMember.get(id);
      if (keys) keys.add(key);
      else this.byMember.set(id, new Set([key]));
    }
    if (this.entries.size > this.maxEntries) this.drop(this.entries.keys().next().value as string);
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
    if (!entry || issuedAt < entry.notBefore) {
      this.counters.misses += 1;
      return undefined;
    }
    this.counters.hits += 1;
    return entry.tag;
  }

  private drop(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const id of entry.members) {
      const keys = this.byMember.get(id);
      keys?.delete(key);
      if (keys?.size === 0) this.byMember.delete(id);
    }
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
