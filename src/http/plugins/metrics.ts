import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../../db/database.js';
import type { ReadRouter } from '../../db/replicas.js';
import type { DeliveryQueue } from '../../db/repositories/webhooks.js';
import { AppError } from '../../domain/errors.js';
import { moveConflicts } from '../../services/connections.js';
import { readWebhookQueue } from '../../services/health.js';

/**
 * `GET /metrics` in the Prometheus text format, one registry per app (tests build several apps in one
 * process; prom-client's global registry would refuse the second set of names).
 *
 * Who may scrape: with a token, only `Authorization: Bearer <token>`; without one, anyone who reaches
 * the server's address, except in production, where /metrics is off (404) so a forgotten token never
 * exposes it. The route is outside the gate (it knows no members) and hidden from the OpenAPI document.
 */
export interface MetricsOptions {
  db: Database;
  /** The node-postgres pool, when there is one (the embedded database has none: no pool figures). */
  pool?: { totalCount: number; idleCount: number; waitingCount: number } | undefined;
  /** Where reads go (DATABASE_READ_URL): reads per target, fallbacks and replicas in use. */
  reads?: ReadRouter | undefined;
  token?: string | undefined;
  /** false: no route (404), no hooks, no collection; the counters still take calls. */
  enabled: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** The counter of LISTEN reconnects on `channel`, reported from 0; call the result once per reconnect. */
  listenReconnects(channel: string): () => void;
  /** Reports the open realtime sockets as `count()` says at each scrape. */
  watchSockets(count: () => number): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Seconds: most answers take a few ms; the top buckets catch the database's timeouts (2 s, 10 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One database read serves every queue figure of a scrape (and of scrapes that overlap it). */
const QUEUE_READ_REUSE_MS = 1000;

const labels = new Map<string, string>();
/** A route's pattern without its parameters' regular expressions: `/user/:id(^\\d+$)/` → `/user/:id/`. */
function routeLabel(url: string | undefined): string {
  if (url === undefined) return 'unmatched';
  let label = labels.get(url);
  if (label === undefined) {
    label = url.replace(/(:\w+)\([^/]*\)(?=\/|$)/g, '$1');
    labels.set(url, label);
  }
  return label;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function tokenChecker(token: string) {
  const expected = digest(token);
  return (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw new AppError(401, 'not_authenticated', 'Authentication credentials were not provided.');
    }
    const sent = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // Digests of equal length: the comparison takes the same time whatever was sent.
    if (!sent || !timingSafeEqual(digest(sent), expected)) {
      throw new AppError(401, 'authentication_failed', 'Invalid metrics token.');
    }
  };
}

/** Creates the app's registry and figures and, when enabled, the request hook and the /metrics route. */
export function registerMetrics(app: FastifyInstance, options: MetricsOptions): Metrics {
  const registry = new Registry();
  const reconnects = new Counter({
    name: 'kith_listen_reconnects_total',
    help: 'Reconnects of the LISTEN connection, by NOTIFY channel (each follows a lost or failed connection)',
    labelNames: ['channel'],
    registers: [registry],
  });
  let sockets: (() => number) | undefined;
  const metrics: Metrics = {
    registry,
    listenReconnects(channel) {
      reconnects.inc({ channel }, 0);
      return () => reconnects.inc({ channel });
    },
    watchSockets(count) {
      if (!sockets && options.enabled) {
        new Gauge({
          name: 'kith_realtime_open_sockets',
          help: 'Open realtime WebSockets of this process',
          registers: [registry],
          collect() {
            this.set(sockets?.() ?? 0);
          },
        });
      }
      sockets = count;
    },
  };
  app.decorate('metrics', metrics);
  if (!options.enabled) return metrics;

  collectDefaultMetrics({ register: registry });

  const requests = new Histogram({
    name: 'kith_http_request_duration_seconds',
    help: 'HTTP requests answered, by method, route pattern and status class: latency (_count is the request count)',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    requests.observe(
      {
        method: METHODS.has(request.method) ? request.method : 'other',
        // The pattern (`/api/v2/user/:id/`), never the URL: unknown paths share one label.
        route: routeLabel(request.routeOptions.url),
        status: `${Math.floor(reply.statusCode / 100)}xx`,
      },
      reply.elapsedTime / 1000,
    );
  });

  const { pool } = options;
  if (pool) {
    const poolGauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    poolGauge('kith_db_pool_connections', 'Connections the node-postgres pool holds open', () => pool.totalCount);
    poolGauge('kith_db_pool_idle_connections', 'Open pool connections not checked out', () => pool.idleCount);
    poolGauge(
      'kith_db_pool_waiting_requests',
      'Callers waiting for a free pool connection (a steady non-zero value: the pool is too small)',
      () => pool.waitingCount,
    );
  }

  const { reads } = options;
  if (reads && reads.targets.length > 0) registerReadMetrics(registry, reads);
  registerTagCacheMetrics(registry, app);
  new Counter({
    name: 'kith_pair_move_conflicts_total',
    help: 'Moves of a pair whose optimistic write found a member changed since it loaded them, made again under the locks',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(moveConflicts.count);
    },
  });

  let lastRead: { at: number; queue: Promise<DeliveryQueue | undefined> } | undefined;
  const readQueue = () => {
    if (!lastRead || Date.now() - lastRead.at > QUEUE_READ_REUSE_MS) {
      const queue = readWebhookQueue(options.db).catch((error: unknown) => {
        app.log.warn({ err: error }, 'metrics: cannot read the webhook queue');
        return undefined;
      });
      lastRead = { at: Date.now(), queue };
    }
    return lastRead.queue;
  };
  const queueGauge = (name: string, help: string, read: (queue: DeliveryQueue) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const queue = await readQueue();
        // NaN says "unknown" (the database did not answer); 0 would say "empty".
        this.set(queue ? read(queue) : Number.NaN);
      },
    });
  queueGauge(
    'kith_webhook_deliveries_pending',
    'Webhook deliveries waiting to go out to active endpoints (read from the database at scrape time)',
    (queue) => queue.pending,
  );
  queueGauge(
    'kith_webhook_deliveries_due',
    'Pending webhook deliveries whose time has come (first tries and retries due now)',
    (queue) => queue.due,
  );
  queueGauge(
    'kith_webhook_oldest_pending_delivery_age_seconds',
    'Seconds since the oldest pending webhook delivery was queued (0: none waits)',
    (queue) => queue.oldestAgeSeconds,
  );

  const check = options.token === undefined ? undefined : tokenChecker(options.token);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    check?.(request);
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  app.addHook('onClose', async () => {
    registry.clear();
  });
  return metrics;
}

/** The tag cache's figures (http/tag-cache.ts), read at each scrape; absent when it is off. */
function registerTagCacheMetrics(registry: Registry, app: FastifyInstance) {
  const cache = app.tagCache;
  if (!cache) return;
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter(
    'kith_tag_cache_hits_total',
    'Re-reads answered 304 from a remembered tag, without a statement',
    () => cache.counters.hits,
  );
  counter(
    'kith_tag_cache_misses_total',
    'Conditional re-reads of tagged routes answered through the database (not remembered, changed since, the feed behind, or a route the cache does not serve)',
    () => cache.counters.misses,
  );
  new Gauge({
    name: 'kith_tag_cache_entries',
    help: 'Tags this process remembers',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
}

/** The read router's figures, read at each scrape (the router counts with plain numbers on the hot path). */
function registerReadMetrics(registry: Registry, reads: ReadRouter) {
  const counter = (name: string, help: string, label: string, counts: Map<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [target, count] of counts) this.inc({ [label]: target }, count);
      },
    });
  counter(
    'kith_db_reads_total',
    'Reads of replica-routed endpoints, by where they ran: primary, or replica-<n> (n-th URL of DATABASE_READ_URL)',
    'target',
    reads.reads,
  );
  counter(
    'kith_db_replica_fallbacks_total',
    'Reads a replica failed (down, a recovery conflict) that the primary then answered, by replica',
    'replica',
    reads.fallbacks,
  );
  new Gauge({
    name: 'kith_db_replica_up',
    help: 'Whether the replica is in use: polled, a standby of the primary, not failing (1) or not (0)',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      for (const replica of reads.targets) this.set({ replica }, reads.replicaUp(replica) ? 1 : 0);
    },
  });
}
