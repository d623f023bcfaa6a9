import { backoffMs } from '../backoff.js';
import type { RetentionConfig, WebhookConfig } from '../config.js';
import { CHANNEL_DELIVERIES } from '../contracts/channels.js';
import type { Database, DatabaseHandle } from '../db/database.js';
import { listen, type Unlisten } from '../db/listen.js';
import * as repo from '../db/repositories/webhooks.js';
import { pruneExpired } from '../services/retention.js';
import { recordAttempt } from '../services/webhooks.js';
import { type DeliveryOutcome, type DeliveryRequest, deliver } from './deliver.js';
import { signatureHeader } from './signing.js';

/** After a failed round: 1 s, 2 s, 4 s, … at most 30 s between tries while the database is away. */
const RETRY_FIRST_MS = 1000;
const RETRY_CAP_MS = 30_000;

export interface WorkerOptions {
  config: WebhookConfig;
  /** How long rows are kept; undefined: the worker prunes nothing. */
  retention?: RetentionConfig | undefined;
  /** The clock the worker lives by (tests move it forward). */
  now?: () => Date;
  /**
   * How long a claimed delivery stays ours before another worker may take it (crash recovery). A row
   * is claimed only when a slot is free to send it at once, so one exchange (at most `timeoutMs`) and
   * its recording must fit: it has to be longer than `timeoutMs`.
   */
  leaseMs?: number;
  /** The whole HTTP exchange (connect, headers, body) must finish within this (default: the config's). */
  timeoutMs?: number;
  /** Deliveries in flight at once, all endpoints together (default: the config's). */
  concurrency?: number;
  /** Deliveries in flight at once to one endpoint, so a stalled endpoint holds only its own slots (default: the config's). */
  perEndpoint?: number;
  pollMs?: number;
  /** How often the worker prunes rows past their retention. */
  pruneEveryMs?: number;
  send?: (request: DeliveryRequest) => Promise<DeliveryOutcome>;
  log?: {
    error: (obj: object, msg: string) => void;
    warn: (obj: object, msg: string) => void;
    info?: (obj: object, msg: string) => void;
  };
  /** Called at each reconnect of the LISTEN connection (the metrics count them). */
  onListenReconnect?: () => void;
}

/** The payload of `webhooks/webhook_payload.md`: the same bytes at every try and every endpoint. */
export function payloadOf(event: { event_id: number; type: string; created: Date; data: unknown }): string {
  return JSON.stringify({
    event_id: event.event_id,
    type: event.type,
    created: event.created.getTime() / 1000,
    data: event.data,
  });
}

/**
 * Delivers queued webhook events: claims due rows, POSTs them signed, records each try, schedules
 * retries (5, 25, 125, 625, 3125 s by default) and switches off endpoints that keep failing.
 * Several workers (in several processes) may share one database.
 *
 * Slots, not batches: the worker keeps up to `concurrency` exchanges in flight, at most
 * `perEndpoint` of them to one endpoint, and claims a row only when a slot is free to send it at
 * once. A stalled endpoint holds its own slots until the timeout, never the others' (no
 * head-of-line blocking), and no claimed row waits in a local queue while its lease runs out (so a
 * slow receiver cannot make another worker deliver the same event while this one is alive).
 */
export class WebhookWorker {
  readonly #db: Database;
  readonly #now: () => Date;
  readonly #lease: number;
  readonly #timeout: number;
  readonly #concurrency: number;
  readonly #perEndpoint: number;
  readonly #poll: number;
  readonly #pruneEvery: number;
  readonly #send: (request: DeliveryRequest) => Promise<DeliveryOutcome>;
  #running = false;
  #wake: (() => void) | undefined;
  /** A wake-up that came while the loop was not asleep: the next sleep returns at once. */
  #woken = false;
  #loop: Promise<void> | undefined;
  #unlisten: Unlisten | undefined;
  #lastPrune = 0;
  /** Exchanges in flight, by endpoint. */
  readonly #busy = new Map<number, number>();
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(
    db: Database,
    private readonly options: WorkerOptions,
  ) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
    const { config } = options;
    this.#timeout = options.timeoutMs ?? config.timeout * 1000;
    // Six exchanges' worth: the recording after the exchange has 50 s by default, far more than it takes.
    this.#lease = options.leaseMs ?? this.#timeout * 6;
    if (this.#lease <= this.#timeout) throw new Error('the lease must be longer than the delivery timeout');
    this.#concurrency = options.concurrency ?? config.concurrency;
    this.#perEndpoint = Math.min(options.perEndpoint ?? config.perEndpoint, this.#concurrency);
    this.#poll = options.pollMs ?? 1000;
    this.#pruneEvery = options.pruneEveryMs ?? 10 * 60_000;
    this.#send = options.send ?? deliver;
  }

  /**
   * Claims what is due now (as many rows as there are free slots, within the per-endpoint bound),
   * delivers them concurrently and waits for them; returns how many deliveries it tried.
   */
  async runOnce(): Promise<number> {
    const started = await this.#fill();
    await Promise.all(started);
    return started.length;
  }

  /** Claims rows for the free slots and starts sending each at once; returns the tries started. */
  async #fill(): Promise<Promise<void>[]> {
    const free = this.#concurrency - this.#active();
    if (free <= 0) return [];
    const now = this.#now();
    const claimed = await repo.claimDue(this.#db, {
      now,
      leaseUntil: new Date(now.getTime() + this.#lease),
      limit: free,
      perEndpoint: this.#perEndpoint,
      busy: this.#busy,
    });
    return claimed.map((delivery) => this.#start(delivery));
  }

  #active() {
    let n = 0;
    for (const count of this.#busy.values()) n += count;
    return n;
  }

  #start(delivery: repo.ClaimedDelivery): Promise<void> {
    const endpoint = delivery.endpoint_id;
    this.#busy.set(endpoint, (this.#busy.get(endpoint) ?? 0) + 1);
    const task = this.#attempt(delivery)
      .catch((error: unknown) => {
        // The row keeps its lease and is tried again when it lapses.
        this.options.log?.error({ err: error, delivery: delivery.id }, 'webhook worker: a delivery failed to record');
      })
      .finally(() => {
        const left = (this.#busy.get(endpoint) ?? 1) - 1;
        if (left > 0) this.#busy.set(endpoint, left);
        else this.#busy.delete(endpoint);
        this.#inFlight.delete(task);
        this.#wakeUp();
      });
    this.#inFlight.add(task);
    return task;
  }

  async #attempt(delivery: repo.ClaimedDelivery) {
    const row = await repo.loadForDelivery(this.#db, delivery);
    // Paused (or deleted) since the claim: leave the row; its lease lapses and claims skip paused endpoints.
    if (!row?.is_active) return;
    const createdAt = this.#now();
    const body = payloadOf({ event_id: row.event_id, type: row.type, created: row.created, data: row.data });
    const secrets = [row.signing_secret];
    if (row.previous_secret && row.previous_secret_expires && row.previous_secret_expires > createdAt) {
      secrets.push(row.previous_secret);
    }
    const signature = signatureHeader(secrets, Math.floor(createdAt.getTime() / 1000), body);
    const outcome = await this.#send({
      target: row.target,
      body,
      signature,
      sslVerify: row.ssl_cert_verification,
      allowPrivate: this.options.config.allowPrivate,
      timeoutMs: this.#timeout,
    });
    const sentAt = this.#now();
    const schedule = this.options.config.retrySchedule;
    const wait = schedule[delivery.attempts];
    await recordAttempt(this.#db, {
      delivery,
      createdAt,
      sentAt,
      body,
      signature,
      status: outcome.status,
      responseBody: outcome.responseBody,
      error: outcome.error,
      ok: outcome.ok,
      nextRetry: wait === undefined ? null : new Date(sentAt.getTime() + wait * 1000),
      disableAfterMs: this.options.config.disableAfter * 1000,
    });
  }

  /** Prunes rows past their retention when the period has passed since the last pruning. */
  async #pruneIfDue() {
    const retention = this.options.retention;
    const now = this.#now();
    if (!retention || now.getTime() - this.#lastPrune < this.#pruneEvery) return;
    this.#lastPrune = now.getTime();
    const removed = await pruneExpired(this.#db, retention, now);
    const total = Object.values(removed).reduce((a, b) => a + b, 0);
    if (total > 0) this.options.log?.info?.({ removed }, 'webhook worker: pruned rows past their retention');
  }

  /**
   * Runs until stop(): wakes on NOTIFY from new events and when a slot frees, and polls for retries
   * that come due. A round that fails (the database is away) is logged and followed by a wait of 1 s,
   * 2 s, … at most 30 s, cut short by a NOTIFY (the database is back and an event came in).
   */
  async start(handle: DatabaseHandle, databaseUrl: string | undefined) {
    if (this.#running) return;
    this.#running = true;
    this.#unlisten = await listen(
      handle,
      databaseUrl,
      CHANNEL_DELIVERIES,
      () => this.#wakeUp(),
      (error) => {
        this.options.log?.warn({ err: error }, 'webhook worker: LISTEN connection lost; reconnecting');
        this.options.onListenReconnect?.();
      },
    );
    this.#loop = (async () => {
      let failures = 0;
      while (this.#running) {
        let started = 0;
        let wait = this.#poll;
        try {
          await this.#pruneIfDue();
          started = (await this.#fill()).length;
          failures = 0;
        } catch (error) {
          wait = backoffMs(failures++, RETRY_FIRST_MS, RETRY_CAP_MS);
          if (this.#running)
            this.options.log?.error(
              { err: error, retryInMs: wait },
              `webhook worker: a round failed: ${error instanceof Error ? error.message : String(error)}`,
            );
        }
        // More may be due while slots are free; otherwise wait for a slot, a NOTIFY or the poll.
        if ((started === 0 || this.#active() >= this.#concurrency) && this.#running) await this.#sleep(wait);
      }
    })();
  }

  #wakeUp() {
    if (this.#wake) this.#wake();
    else this.#woken = true;
  }

  /** Waits `ms`, or less if a NOTIFY, a freed slot (or stop) wakes the worker. */
  async #sleep(ms: number) {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
    this.#woken = false;
  }

  /** Stops taking work and waits for the tries in flight to be recorded. */
  async stop() {
    this.#running = false;
    this.#wakeUp();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    await this.#unlisten?.();
  }
}
