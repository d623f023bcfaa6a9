import { randomBytes } from 'node:crypto';
import { CHANNEL_VERSIONS } from '../contracts/channels.js';
import type { DatabaseHandle } from './database.js';
import { type Subscription, subscribe } from './listen.js';

/** What changed: these members' versions, or everything. */
export type VersionChange = readonly number[] | 'all';

export interface VersionFeedHandlers {
  /** Members whose versions changed (in commit order), or 'all'. */
  onChange(change: VersionChange): void;
  /**
   * The feed went down or came back: notifications may have been missed meanwhile, so nothing heard
   * before can be trusted. `live` says which.
   */
  onReset(live: boolean): void;
}

/** How long a process waits for its own barrier before it answers from the database instead. */
const SYNC_TIMEOUT_MS = 1000;

interface Barrier {
  readonly token: string;
  readonly waiters: Array<(caughtUp: boolean) => void>;
  timer?: NodeJS.Timeout;
}

/**
 * The changes of `kith_versions` (migration 0020), heard on one LISTEN connection of this process,
 * and a barrier on that same connection: `caughtUp()` sends a notification to a channel only this
 * process listens to and resolves when it comes back. PostgreSQL delivers notifications in commit
 * order, so by then every change committed before the call has been handed to `onChange` — whichever
 * process or host made it. Callers arriving while a barrier is on its way wait for the next one, so
 * one round trip serves every request that arrived meanwhile.
 */
export class VersionFeed {
  private subscription: Subscription | undefined;
  private readonly channel = `kith_sync_${randomBytes(12).toString('hex')}`;
  private live = false;
  private sent = 0;
  /** The barrier on its way, and the one the callers since its sending wait for. */
  private inFlight: Barrier | undefined;
  private next: Barrier | undefined;

  private constructor(private readonly handlers: VersionFeedHandlers) {}

  static async open(
    handle: DatabaseHandle,
    databaseUrl: string | undefined,
    handlers: VersionFeedHandlers,
    onError: (error: unknown) => void = () => undefined,
  ): Promise<VersionFeed> {
    const feed = new VersionFeed(handlers);
    feed.subscription = await subscribe(
      handle,
      databaseUrl,
      [CHANNEL_VERSIONS, feed.channel],
      (channel, payload) => feed.heard(channel, payload),
      {
        onError: (error) => {
          feed.down();
          onError(error);
        },
        onListening: () => {
          feed.live = true;
          handlers.onReset(true);
        },
      },
    );
    return feed;
  }

  get isLive(): boolean {
    return this.live;
  }

  /**
   * Resolves true once every change committed before this call has been handed to `onChange`; false
   * when that cannot be known (the feed is down, or its barrier took longer than a second).
   */
  caughtUp(): Promise<boolean> {
    if (!this.live || !this.subscription) return Promise.resolve(false);
    return new Promise((resolve) => {
      if (!this.next) this.next = { token: String(++this.sent), waiters: [] };
      this.next.waiters.push(resolve);
      if (!this.inFlight) this.send();
    });
  }

  async close(): Promise<void> {
    this.down();
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  private send() {
    const barrier = this.next;
    if (!barrier || !this.subscription) return;
    this.next = undefined;
    this.inFlight = barrier;
    barrier.timer = setTimeout(() => this.settle(barrier, false), SYNC_TIMEOUT_MS);
    barrier.timer.unref();
    void this.subscription.notify(this.channel, barrier.token).then((ok) => {
      if (!ok) this.settle(barrier, false);
    });
  }

  private settle(barrier: Barrier, caughtUp: boolean) {
    if (barrier.timer) clearTimeout(barrier.timer);
    barrier.timer = undefined;
    for (const resolve of barrier.waiters.splice(0)) resolve(caughtUp);
    if (this.inFlight === barrier) {
      this.inFlight = undefined;
      if (this.live) this.send();
    }
  }

  private heard(channel: string, payload: string) {
    if (channel === this.channel) {
      if (this.inFlight?.token === payload) this.settle(this.inFlight, true);
      return;
    }
    if (payload === '*') return this.handlers.onChange('all');
    const ids: number[] = [];
    for (const part of payload.split(',')) {
      const id = Number(part);
      if (Number.isSafeInteger(id)) ids.push(id);
      else return this.handlers.onChange('all');
    }
    this.handlers.onChange(ids);
  }

  private down() {
    const wasLive = this.live;
    this.live = false;
    if (this.inFlight) this.settle(this.inFlight, false);
    if (this.next) {
      const waiting = this.next;
      this.next = undefined;
      for (const resolve of waiting.waiters.splice(0)) resolve(false);
    }
    if (wasLive) this.handlers.onReset(false);
  }
}
