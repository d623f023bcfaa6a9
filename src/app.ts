import { randomUUID } from 'node:crypto';
import http from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { type Config, DEFAULT_MAX_PENDING_REQUESTS, DEFAULT_WEBHOOKS, type WebhookConfig } from './config.js';
import { CHANNEL_NOTIFICATIONS } from './contracts/channels.js';
import { Me, User } from './contracts/user.js';
import type { Database, DatabaseHandle } from './db/database.js';
import { ReadRouter } from './db/replicas.js';
import { VersionFeed } from './db/version-feed.js';
import { AppError } from './domain/errors.js';
import { type AuthMode, registerAuth } from './http/plugins/auth.js';
import { registerBodyParsers } from './http/plugins/body-parsers.js';
import { registerCors } from './http/plugins/cors.js';
import { frameworkErrors, registerErrorHandling } from './http/plugins/errors.js';
import { registerNotFound } from './http/plugins/method-not-allowed.js';
import { registerMetrics } from './http/plugins/metrics.js';
import { registerRateLimits } from './http/plugins/rate-limits.js';
import { registerWriteTracking } from './http/plugins/reads.js';
import { authRoutes } from './http/routes/auth.js';
import { communityRoutes } from './http/routes/community.js';
import { connectionRoutes } from './http/routes/connections.js';
import { followRoutes } from './http/routes/follows.js';
import { healthRoutes } from './http/routes/health.js';
import { hideRoutes } from './http/routes/hides.js';
import { moderationRoutes } from './http/routes/moderation.js';
import { notificationRoutes } from './http/routes/notifications.js';
import { peopleRoutes } from './http/routes/people.js';
import { preferenceRoutes } from './http/routes/preferences.js';
import { userRoutes } from './http/routes/users.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { ErrorBody } from './http/schemas/common.js';
import { ConnectionRequest } from './http/schemas/connections.js';
import { TagCache } from './http/tag-cache.js';
import { type RealtimeOptions, registerRealtime } from './realtime/plugin.js';
import { TokenVerifier } from './services/tokens.js';

/** The OpenAPI security requirement of a route whose gate is `auth` (see plugins/auth.ts). */
function securityOf(auth: AuthMode | undefined): Array<Record<string, string[]>> | undefined {
  if (auth === 'required' || auth === 'admin') return [{ bearerAuth: [] }];
  if (auth === 'optional' || auth === 'public') return [{}, { bearerAuth: [] }];
  return undefined;
}

/**
 * The route's responses as the document shows them. @fastify/swagger drops every sibling of a `$ref`,
 * so a referenced body (`{ $ref: 'User', examples }`) is given in the media form, which keeps its example.
 */
function documentedResponses(response: unknown) {
  if (!response || typeof response !== 'object') return response;
  const entries = Object.entries(response as Record<string, Record<string, unknown>>).map(([status, body]) => {
    const { $ref, examples, description, headers, ...rest } = body;
    if (typeof $ref !== 'string' || !Array.isArray(examples)) return [status, body];
    const media = { schema: { $ref, ...rest }, example: examples[0] };
    return [status, { description, ...(headers !== undefined && { headers }), content: { 'application/json': media } }];
  });
  return Object.fromEntries(entries);
}

import { documentTagged } from './http/etag.js';
import { VERSION } from './version.js';

export interface AppOptions {
  config: Pick<Config, 'jwtSecret' | 'accessTokenTtl' | 'refreshTokenTtl' | 'trustProxy'> &
    Partial<
      Pick<
        Config,
        'corsOrigins' | 'metricsToken' | 'production' | 'requestTimeout' | 'rateLimits' | 'maxPendingRequests'
      >
    >;
  db: Database;
  /** Where reads of `replica` routes go (DATABASE_READ_URL); without it, every read goes to `db`. */
  reads?: ReadRouter | undefined;
  /** The node-postgres pool behind `db`, when there is one: /metrics reports its use. */
  pool?: { totalCount: number; idleCount: number; waitingCount: number } | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Webhook settings; without them, private targets are refused and retries follow the default schedule. */
  webhooks?: WebhookConfig;
  /** The prefix of the rate limits' Redis keys (tests give each run its own); see plugins/rate-limits.ts. */
  rateLimitNamespace?: string;
  /** The realtime channel needs the database handle (for LISTEN); without it, no /ws/notify. */
  realtime?: Omit<RealtimeOptions, 'tokens' | 'onReconnect'>;
  /**
   * The tag cache (http/tag-cache.ts) needs the database handle (for LISTEN) and its size in tags
   * (KITH_TAG_CACHE_ENTRIES; 0: off); without it, every re-read asks the database.
   */
  tagCache?: { handle: DatabaseHandle; databaseUrl: string | undefined; entries: number };
}

/** An incoming X-Request-Id kith adopts as the request's id (a proxy's or a client's); anything else is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's id: the caller's X-Request-Id when it is sane, else a new UUID, so ids are unique across
 * processes and restarts (Fastify's default counts from 1 in every process).
 */
function requestId(raw: { headers: Record<string, string | string[] | undefined> }): string {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** The paths of the health probes: polled every few seconds, they would drown the info log. */
const PROBES = new Set(['/healthz', '/readyz']);

/** Fastify's request log lines, at debug for the health probes and unchanged (info) for everything else. */
class ProbesAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply) {
    if (PROBES.has(request.routeOptions.url ?? '')) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (!error && PROBES.has(request.routeOptions.url ?? '')) {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    } else super.requestCompleted(error, request, reply);
  }
}

/**
 * Errors Node's HTTP parser raises before a request reaches Fastify (a request that took too long, a
 * malformed request line): answered in kith's JSON shape, then the connection is closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: import('node:net').Socket) {
  if (!socket.writable) return socket.destroy();
  const [status, text, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', { detail: 'The request took too long to arrive.', code: 'request_timeout' }]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            { detail: "The request's headers are larger than 16 KiB.", code: 'headers_too_large' },
          ]
        : [400, 'Bad Request', { detail: 'Malformed request.', code: 'parse_error' }];
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

/**
 * An `Expect` header other than `100-continue` (which Node answers itself): 417, in kith's JSON
 * shape (Node's own 417 has no body), and the connection closed, since the body may follow anyway.
 */
function answerUnknownExpectation(_request: http.IncomingMessage, response: http.ServerResponse) {
  const json = JSON.stringify({ detail: 'Only "Expect: 100-continue" is supported.', code: 'expectation_failed' });
  response.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    connection: 'close',
  });
  response.end(json);
}

/**
 * Once the app is closing, every answer still going out says `Connection: close`: an in-flight
 * request on a keep-alive connection would otherwise leave that connection open after its answer,
 * and the process would wait out the keep-alive timeout (72 s) before it could exit. New requests
 * already get 503 (`return503OnClosing`) and idle connections are closed by Fastify.
 */
function closeConnectionsWhenClosing(app: FastifyInstance) {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('Connection', 'close');
  });
}

/** Decorates `app.tagCache`: the process's remembered tags fed by its own LISTEN connection, or null. */
async function openTagCache(app: FastifyInstance, options: AppOptions['tagCache']) {
  if (!options || options.entries === 0) {
    app.decorate('tagCache', null);
    return;
  }
  let cache: TagCache | undefined;
  const feed = await VersionFeed.open(
    options.handle,
    options.databaseUrl,
    { onChange: (change) => cache?.changed(change), onReset: () => cache?.forgetAll() },
    (error) => app.log.warn({ err: error }, 'tag cache: the LISTEN connection failed; re-reads ask the database'),
  );
  cache = new TagCache(feed, options.entries);
  app.decorate('tagCache', cache);
  app.addHook('onClose', () => feed.close());
}

/** Builds the whole HTTP application; the server and the tests build the same one. */
export async function buildApp({
  config,
  db,
  reads = ReadRouter.primaryOnly(db),
  pool,
  logger = false,
  realtime,
  webhooks = DEFAULT_WEBHOOKS,
  rateLimitNamespace,
  tagCache: tagCacheOptions,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger,
    genReqId: requestId,
    logController: new ProbesAtDebug(),
    trustProxy: config.trustProxy,
    // The largest honest body (a 10,000-character bio, all escaped) fits; anything bigger is a 413.
    bodyLimit: 64 * 1024,
    // A client must send its whole request (headers and body) within the request timeout: one that
    // trickles a byte a second is cut, with a 408, instead of holding a connection forever. Node checks
    // the deadlines every `connectionsCheckingInterval` (30 s by default): checked each second here.
    serverFactory: (handler) => {
      const requestTimeout = config.requestTimeout ?? 30_000;
      const server = http.createServer(
        {
          requestTimeout,
          headersTimeout: Math.min(requestTimeout, 60_000),
          connectionsCheckingInterval: Math.min(1000, requestTimeout / 2),
          keepAliveTimeout: 72_000,
          // Node would answer a missing Host with an empty 400 of its own: the gate below answers it in JSON.
          requireHostHeader: false,
        },
        handler,
      );
      server.on('checkExpectation', answerUnknownExpectation);
      return server;
    },
    clientErrorHandler: answerClientError,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 200 },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: true, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    frameworkErrors,
  });

  // Echoed on every answer (errors and 404s included), so a caller can quote it and find the log lines.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without a Host header.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new AppError(400, 'parse_error', 'Malformed request: an HTTP/1.1 request must carry a Host header.');
    }
  });
  registerErrorHandling(app);
  registerNotFound(app);
  closeConnectionsWhenClosing(app);
  registerBodyParsers(app);
  await registerCors(app, config.corsOrigins ?? []);
  // Without `config.rateLimits` (tests building their own app), no rate limit; the server always passes them.
  await registerRateLimits(app, config.rateLimits, { namespace: rateLimitNamespace });
  await openTagCache(app, tagCacheOptions);
  // One verifier (and its cache of verified tokens) for the HTTP gate and the realtime handshake.
  const tokens = new TokenVerifier(config.jwtSecret);
  registerAuth(app, reads, tokens);
  registerWriteTracking(app, reads);
  // Before the routes, so its request hook times every one of them. Off in production without a token.
  const metrics = registerMetrics(app, {
    db,
    pool,
    reads,
    token: config.metricsToken,
    enabled: config.metricsToken !== undefined || !config.production,
  });

  for (const schema of [ErrorBody, User, Me, ConnectionRequest]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'kith',
        version: VERSION,
        description: 'Connections (friendships) of a community, speaking the SelfCommunity API v2.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // The padlock follows the gate's own declaration (config.auth): a token is required for
    // 'required' and 'admin', accepted for 'optional' and 'public', and not read elsewhere.
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url };
      const security = securityOf(route.config?.auth);
      const documented = route.config?.etag ? documentTagged(schema) : schema;
      return {
        schema: { ...documented, ...(security && { security }), response: documentedResponses(documented.response) },
        url,
      };
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Route modules are plugins under their prefix, registered in the order of the OpenAPI document.
  const api = { prefix: '/api/v2', db };
  await app.register(healthRoutes, { db, version: VERSION });
  await app.register(authRoutes, {
    prefix: '/oauth',
    db,
    settings: { secret: config.jwtSecret, accessTtl: config.accessTokenTtl, refreshTtl: config.refreshTokenTtl },
  });
  await app.register(userRoutes, api);
  await app.register(connectionRoutes, {
    ...api,
    limits: { maxPendingRequests: config.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS },
  });
  await app.register(followRoutes, api);
  await app.register(hideRoutes, api);
  await app.register(peopleRoutes, api);
  await app.register(preferenceRoutes, api);
  await app.register(communityRoutes, api);
  await app.register(notificationRoutes, api);
  await app.register(moderationRoutes, api);
  await app.register(webhookRoutes, { ...api, config: webhooks });
  if (realtime) {
    const hub = await registerRealtime(app, {
      ...realtime,
      tokens,
      onReconnect: metrics.listenReconnects(CHANNEL_NOTIFICATIONS),
    });
    metrics.watchSockets(() => hub.size);
  }
  app.get('/api/v2/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
