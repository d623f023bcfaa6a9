import { STATUS_CODES } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CHANNEL_NOTIFICATIONS, sessionsClosed } from '../contracts/channels.js';
import type { Database, DatabaseHandle } from '../db/database.js';
import { listen } from '../db/listen.js';
import { findActiveViewer } from '../db/repositories/users.js';
import { type TokenVerifier, tokenCurrent } from '../services/tokens.js';
import { HEARTBEAT, Hub, type HubOptions } from './hub.js';
import { interactionMessage } from './notifications.js';

/** The token travels as the sub-protocol `__<token>` (browsers cannot set headers on a WebSocket). */
function tokenProtocol(header: string | undefined): string | undefined {
  return header
    ?.split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith('__') && p.length > 2);
}

/**
 * Refuses an upgrade with a complete HTTP answer and an orderly close. Fastify's own reply would say
 * `Connection: keep-alive`, and @fastify/websocket destroys the socket as soon as the answer is
 * handed over: a client on a keep-alive connection then sees a reset instead of the 401. Writing
 * the answer ourselves with `Connection: close` and `end()` flushes it, then closes.
 */
function refuseUpgrade(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  error: { detail: string; code: string },
  headers: Record<string, string> = {},
) {
  const body = JSON.stringify(error);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  reply.hijack();
  request.log.info({ status, code: error.code }, 'realtime: upgrade refused');
  request.raw.socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  return reply;
}

export interface RealtimeOptions extends Partial<HubOptions> {
  handle: DatabaseHandle;
  databaseUrl: string | undefined;
  /** The app's token verifier (shared with the HTTP gate). */
  tokens: TokenVerifier;
  /** Called at each reconnect of the LISTEN connection (the metrics count them). */
  onReconnect?: () => void;
}

/**
 * `/ws/notify?subscribe-user`: pushes each new notification to every open socket of its user.
 * Notifications reach this process through PostgreSQL LISTEN/NOTIFY, whichever process made them.
 */
export async function registerRealtime(app: FastifyInstance, options: RealtimeOptions) {
  const db: Database = options.handle.db;
  const hub = new Hub({
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    pingIntervalMs: options.pingIntervalMs ?? 30_000,
  });

  const queues = new Map<number, Promise<void>>();
  const unlisten = await listen(
    options.handle,
    options.databaseUrl,
    CHANNEL_NOTIFICATIONS,
    (payload) => {
      const [first, second] = payload.split(':');
      const user = Number(first);
      if (!user || !hub.has(user)) return;
      if (payload === sessionsClosed(user)) return hub.closeUser(user, 1008, 'account inactive');
      const notification = Number(second);
      if (!notification) return;
      // One member's messages are built and sent in the order their notifications were made.
      const previous = queues.get(user) ?? Promise.resolve();
      const next = previous
        .then(() => interactionMessage(db, user, notification))
        .then((message) => {
          if (message) hub.send(user, message);
        })
        .catch((error: unknown) => app.log.error({ err: error }, 'realtime: cannot build a notification message'))
        .finally(() => {
          if (queues.get(user) === next) queues.delete(user);
        });
      queues.set(user, next);
    },
    (error) => {
      app.log.warn({ err: error }, 'realtime: LISTEN connection lost; reconnecting');
      options.onReconnect?.();
    },
  );

  await app.register(websocket, {
    options: {
      maxPayload: 4096,
      handleProtocols: (protocols) => {
        for (const p of protocols) if (p.startsWith('__')) return p;
        return false;
      },
    },
  });

  app.get(
    '/ws/notify',
    {
      websocket: true,
      schema: { hide: true },
      preValidation: async (request, reply) => {
        const protocol = tokenProtocol(request.headers['sec-websocket-protocol']);
        const verified = protocol ? await options.tokens.verify(protocol.slice(2)) : undefined;
        let viewer: Awaited<ReturnType<typeof findActiveViewer>>;
        try {
          const found = verified?.ok ? await findActiveViewer(db, verified.userId) : undefined;
          viewer = found && verified?.ok && tokenCurrent(found, verified.issuedAt) ? found : undefined;
        } catch (error) {
          request.log.warn({ err: error }, 'realtime: cannot load the member of a handshake');
          return refuseUpgrade(request, reply, 503, {
            detail: 'The service is temporarily unavailable.',
            code: 'service_unavailable',
          });
        }
        if (!viewer) {
          return refuseUpgrade(
            request,
            reply,
            401,
            { detail: 'Invalid or missing token sub-protocol.', code: 'authentication_failed' },
            { 'WWW-Authenticate': 'Bearer realm="api"' },
          );
        }
        request.viewer = viewer;
      },
    },
    (socket, request) => {
      const viewer = request.viewer;
      if (!viewer) return socket.close(1008, 'unauthenticated');
      hub.add(viewer.id, socket);
      socket.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === HEARTBEAT) socket.send(HEARTBEAT);
      });
    },
  );

  app.addHook('onClose', async () => {
    hub.close();
    await unlisten();
  });
  return hub;
}
