import { backoffMs } from '../backoff.js';
import type { WebhookConfig } from '../config.js';
import { CHANNEL_DELIVERIES } from '../contracts/channels.js';
import type { Database, DatabaseHandle } from '../db/database.js';
import { listen, type Unlisten } from '../db/listen.js';
import * as repo from '../db/repositories/webhooks.js';
import { recordAttempt } from '../services/webhooks.js';
import { type DeliveryOutcome, type DeliveryRequest, deliver } from './deliver.js';
import { signatureHeader } from './signing.js';

/** After a failed round: 1 s, 2 s, 4 s, … at most 30 s between tries while the database is away. */
const RETRY_FIRST_MS = 1000;
const RETRY_CAP_MS = 30_000;

export interface WorkerOptions {
  config: WebhookConfig;
  /** The clock the worker lives by (tests move it forward). */
  now?: () => Date;
  /** How long a claimed delivery stays ours before another worker may take it (crash recovery). */
  leaseMs?: number;
  /** The whole HTTP exchange must finish within this. */
  timeoutMs?: number;
  batchSize?: number;
  pollMs?: number;
  send?: (request: DeliveryRequest) => Promise<DeliveryOutcome>;
  log?: { error: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
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
 */
export class WebhookWorker {
  readonly #db: Database;
  readonly #now: () => Date;
  readonly #lease: number;
  readonly #timeout: number;
  readonly #batch: number;
  readonly #poll: number;
  readonly #send: (request: DeliveryRequest) => Promise<DeliveryOutcome>;
  #running = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #unlisten: Unlisten | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(
    db: Database,
    private readonly options: WorkerOptions,
  ) {
    this.#db = db;
    this.#now = options.now ?? (() => new Date());
    this.#lease = options.leaseMs ?? 60_000;
    this.#timeout = options.timeoutMs ?? 10_000;
    this.#batch = options.batchSize ?? 10;
    this.#poll = options.pollMs ?? 1000;
    this.#send = options.send ?? deliver;
  }

  /** Claims and delivers what is due now; returns how many deliveries it tried. */
  async runOnce(): Promise<number> {
    const now = this.#now();
    const claimed = await repo.claimDue(this.#db, now, new Date(now.getTime() + this.#lease), this.#batch);
    // Endpoints are served in parallel; one endpoint's events go out one after another, oldest first.
    const byEndpoint = new Map<number, repo.ClaimedDelivery[]>();
    for (const delivery of claimed)
      byEndpoint.set(delivery.endpoint_id, [...(byEndpoint.get(delivery.endpoint_id) ?? []), delivery]);
    await Promise.all(
      [...byEndpoint.values()].map((queue) =>
        this.#track(
          (async () => {
            for (const delivery of queue.sort((a, b) => a.event_id - b.event_id)) await this.#attempt(delivery);
          })(),
        ),
      ),
    );
    return claimed.length;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    return promise.finally(() => this.#inFlight.delete(promise));
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

  /**
   * Runs until stop(): wakes on NOTIFY from new events, and polls for retries that come due. A round
   * that fails (the database is away) is logged and followed by a wait of 1 s, 2 s, … at most 30 s,
   * cut short by a NOTIFY (the database is back and an event came in).
   */
  async start(handle: DatabaseHandle, databaseUrl: string | undefined) {
    if (this.#running) return;
    this.#running = true;
    this.#unlisten = await listen(
      handle,
      databaseUrl,
      CHANNEL_DELIVERIES,
      () => this.#wake?.(),
      (error) => {
        this.options.log?.warn({ err: error }, 'webhook worker: LISTEN connection lost; reconnecting');
        this.options.onListenReconnect?.();
      },
    );
    this.#loop = (async () => {
      let failures = 0;
      while (this.#running) {
        let tried = 0;
        let wait = this.#poll;
        try {
          tried = await this.runOnce();
          failures = 0;
        } catch (error) {
          wait = backoffMs(failures++, RETRY_FIRST_MS, RETRY_CAP_MS);
          if (this.#running)
            this.options.log?.error(
              { err: error, retryInMs: wait },
              `webhook worker: a round failed: ${error instanceof Error ? error.message : String(error)}`,
            );
        }
        if (tried === 0 && this.#running) await this.#sleep(wait);
      }
    })();
  }

  /** Waits `ms`, or less if a NOTIFY (or stop) wakes the worker. */
  async #sleep(ms: number) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /** Stops taking work and waits for the tries in flight to be recorded. */
  async stop() {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    await this.#unlisten?.();
  }
}
