import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Database, DatabaseHandle } from '../db/database.js';
import { listen } from '../db/listen.js';
import { findActiveViewer } from '../db/repositories/users.js';
import { CHANNEL_NOTIFICATIONS } from '../events/outbox.js';
import { verifyAccessToken } from '../services/tokens.js';
import { HEARTBEAT, Hub, type HubOptions } from './hub.js';
import { interactionMessage } from './notifications.js';

/** The token travels as the sub-protocol `__<token>` (browsers cannot set headers on a WebSocket). */
function tokenProtocol(header: string | undefined): string | undefined {
  return header
    ?.split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith('__') && p.length > 2);
}

export interface RealtimeOptions extends Partial<HubOptions> {
  handle: DatabaseHandle;
  databaseUrl: string | undefined;
  secret: string;
}

/**
 * `/ws/notify?subscribe-user`: pushes each new notification to every open socket of its user.
 * Notifications reach this process through PostgreSQL LISTEN/NOTIFY, whichever process made them.
 */
export async function registerRealtime(app: FastifyInstance, options: RealtimeOptions) {
  const db: Database = options.handle.db;
  const key = new TextEncoder().encode(options.secret);
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
      const [user, notification] = payload.split(':').map(Number);
      if (!user || !notification || !hub.has(user)) return;
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
    (error) => app.log.warn({ err: error }, 'realtime: LISTEN connection lost; reconnecting'),
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
        const verified = protocol ? await verifyAccessToken(key, protocol.slice(2)) : undefined;
        const viewer = verified?.ok ? await findActiveViewer(db, verified.userId) : undefined;
        if (!viewer) {
          reply.header('WWW-Authenticate', 'Bearer realm="api"');
          return reply
            .code(401)
            .send({ detail: 'Invalid or missing token sub-protocol.', code: 'authentication_failed' });
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
