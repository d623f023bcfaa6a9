import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { RateLimitConfig } from '../../config.js';
import { AppError } from '../../domain/errors.js';

/**
 * The abuse limits (docs/security.md lists each one, its default, key and variable). Counting and
 * storage are @fastify/rate-limit's (fixed windows; in this process's memory, or in Redis when
 * REDIS_URL is set, so every process using that Redis shares one budget); the 429 is kith's.
 *
 * Where they sit in the gate's order: the per-address ceiling first (onRequest, before the token is
 * even read: a flood of bad tokens costs nothing), and a route's own limits last (after the gate and
 * input validation, before the service), so only an attempt the service would act on is counted:
 * 429 (address) → 401 → 403 → 400 (input) → 429 (sender, username) → the service's answers.
 */

/** The limits a route may declare (the per-address ceiling covers every route). */
export type RouteLimitName = 'tokenPerIp' | 'tokenPerUsername' | 'connectionRequests' | 'follows';
type LimitName = RouteLimitName | 'perIp';
const LIMIT_NAMES: readonly LimitName[] = ['perIp', 'tokenPerIp', 'tokenPerUsername', 'connectionRequests', 'follows'];

/** A limit a route declares: which one, and what of the request it counts (undefined: this request is not counted). */
export interface RouteLimit {
  limit: RouteLimitName;
  key: (request: FastifyRequest) => string | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's own limits, checked in this order after the gate (see plugins/rate-limits.ts). */
    limits?: readonly RouteLimit[];
  }
}

/** The paths never limited: probes a load balancer polls, and the metrics scraper. */
const UNLIMITED = new Set(['/healthz', '/readyz', '/metrics']);

/** The client's address as a budget's key: an IPv6 client's whole /64 is one key (it holds that many addresses). */
export const addressOf = (request: FastifyRequest) => normalizeIP(request.ip, 64);

/**
 * The key of a limit per sender: the signed-in member (only on routes whose gate requires one; the
 * limits are counted after the gate, so the token's member is the active member it admitted).
 */
export const bySender = (request: FastifyRequest) =>
  request.tokenUserId === null ? undefined : String(request.tokenUserId);

const throttled = (seconds: number) =>
  new AppError(
    429,
    'throttled',
    `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`,
  );

export interface RateLimitOptions {
  /** Prefix of every Redis key (tests give each run its own). */
  namespace?: string;
}

/** How often (ms) a failing store is reported in the log: once per outage would hide a long one. */
const WARN_EVERY_MS = 60_000;

/**
 * Registers the limits `config` enables (none when it is undefined or switched off): the per-address
 * ceiling on every request, and each route's declared limits after its gate. A store that fails
 * (Redis down or slow) lets the request through and says so in the log: a limit must not take the
 * service down with it.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  config: RateLimitConfig | undefined,
  { namespace = 'kith:rate-limit:' }: RateLimitOptions = {},
) {
  if (!config?.enabled) return;
  const redis = config.redisUrl ? await connectRedis(app.log, config.redisUrl) : undefined;
  if (redis) app.addHook('onClose', async () => redis.disconnect());
  await app.register(rateLimit, { global: false, skipOnError: false, redis, nameSpace: namespace });

  let lastWarning = 0;
  const failedOpen = (error: unknown) => {
    if (Date.now() - lastWarning < WARN_EVERY_MS) return;
    lastWarning = Date.now();
    app.log.warn({ err: error }, 'rate-limit store unavailable: requests are let through uncounted');
  };

  const keyOf = (request: FastifyRequest, name: LimitName) =>
    name === 'perIp'
      ? addressOf(request)
      : request.routeOptions.config.limits?.find((l) => l.limit === name)?.key(request);

  // One limiter (and, in memory, one LRU of 5,000 keys) per limit. In Redis a counter's key is
  // `<namespace>undefinedundefined-<limit>:<key>`: @fastify/rate-limit names a limiter made outside a
  // route after a route it does not have; the limit's name in the key keeps the budgets apart.
  const limiters = new Map<LimitName, ReturnType<FastifyInstance['createRateLimit']>>();
  for (const name of LIMIT_NAMES) {
    const rate = config[name];
    if (!rate) continue;
    const limiter = app.createRateLimit({
      max: rate.max,
      timeWindow: rate.windowMs,
      keyGenerator: (request) => `${name}:${keyOf(request, name)}`,
    });
    limiters.set(name, limiter);
  }

  /** Counts the request against `name`'s budget; throws 429 with Retry-After when it is spent. */
  const enforce = async (name: LimitName, request: FastifyRequest, reply: FastifyReply) => {
    const limiter = limiters.get(name);
    if (!limiter) return;
    let result: Awaited<ReturnType<typeof limiter>>;
    try {
      result = await limiter(request);
    } catch (error) {
      return failedOpen(error);
    }
    if (result.isAllowed || !result.isExceeded) return;
    const seconds = Math.max(1, result.ttlInSeconds);
    reply.header('Retry-After', String(seconds));
    request.log.info({ limit: name }, 'rate limit reached');
    throw throttled(seconds);
  };

  app.addHook('onRequest', async (request, reply) => {
    if (UNLIMITED.has(request.routeOptions.url ?? '')) return;
    await enforce('perIp', request, reply);
  });

  // A route's own hooks run after every instance hook, so after the gate's (the 401/403 and the
  // input errors): only requests the service will act on are counted. A route whose statement loads
  // the member is through the gate only once that statement has run: its limits wait for
  // `admitFoundAndLimit` (plugins/auth.ts).
  app.addHook('onRoute', (route) => {
    const declared = route.config?.limits;
    if (!declared || declared.length === 0) return;
    const hook = async (request: FastifyRequest, reply: FastifyReply) => {
      for (const { limit, key } of declared) {
        if (key(request) !== undefined) await enforce(limit, request, reply);
      }
    };
    const deferred = async (request: FastifyRequest, reply: FastifyReply) => {
      request.routeLimits = () => hook(request, reply);
    };
    const own = route.preHandler;
    const mine = route.config?.memberInStatement ? deferred : hook;
    route.preHandler = [...(Array.isArray(own) ? own : own ? [own] : []), mine];
  });
}

/**
 * A Redis client that never makes a request wait for Redis: commands fail at once while it is
 * disconnected (no offline queue) and after 500 ms when it does not answer; it reconnects by itself.
 * Waits up to a second for the first connection, so a server starting beside its Redis counts from
 * its first request.
 */
async function connectRedis(log: FastifyBaseLogger, url: string): Promise<Redis> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let down = false;
  redis.on('error', (error) => {
    if (down) return;
    down = true;
    log.warn({ err: error }, 'Redis unreachable: rate limits are not enforced until it is back');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info('Redis reachable again: rate limits enforced');
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return redis;
}
