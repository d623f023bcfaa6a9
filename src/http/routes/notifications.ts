import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import * as repo from '../../db/repositories/notifications.js';
import { listNotificationsMarkingRead } from '../../services/notifications.js';
import { viewerOf } from '../plugins/auth.js';
import { parseSid, presentNotificationGroup } from '../presenters/notifications.js';
import { errors } from '../schemas/common.js';

const tags = ['notifications'];
const PAGE = 20;
const Cursor = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

const NotificationGroup = Type.Object({
  is_new: Type.Boolean(),
  sid: Type.String(),
  aggregated: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

function link(request: FastifyRequest, key: 'next_id' | 'previous_id', id: number) {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.delete('next_id');
  url.searchParams.delete('previous_id');
  url.searchParams.set(key, String(id));
  return url.toString();
}

export function notificationRoutes(base: FastifyInstance, db: Database) {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/v2/notification/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'My notifications, newest first; the listed ones become read (they show is_new as before)',
        querystring: Type.Object({ next_id: Type.Optional(Cursor), previous_id: Type.Optional(Cursor) }),
        response: {
          200: Type.Object({
            next: Type.Union([Type.String(), Type.Null()]),
            previous: Type.Union([Type.String(), Type.Null()]),
            results: Type.Array(NotificationGroup),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const viewer = viewerOf(request);
      const { next_id, previous_id } = request.query;
      // previous_id takes precedence when both are sent, as the page says.
      const cursor =
        previous_id !== undefined ? { after: previous_id } : next_id !== undefined ? { before: next_id } : {};
      const page = await listNotificationsMarkingRead(db, viewer.id, cursor, PAGE);
      const first = page.rows[0];
      const last = page.rows.at(-1);
      return {
        next: page.hasOlder && last ? link(request, 'next_id', last.id) : null,
        previous: page.hasNewer && first ? link(request, 'previous_id', first.id) : null,
        results: page.rows.map(presentNotificationGroup),
      };
    },
  );

  app.get(
    '/api/v2/notification/unseen/count/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'How many of my notifications are unread',
        response: { 200: Type.Object({ count: Type.Integer() }), ...errors },
      },
    },
    async (request) => ({ count: await repo.countUnseen(db, viewerOf(request).id) }),
  );

  app.post(
    '/api/v2/notification/read/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Mark notifications read by their sids (group or item)',
        body: Type.Object({ sids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 }) }),
        response: { 204: Type.Null({ description: 'Marked' }), ...errors },
      },
    },
    async (request, reply) => {
      const ids = request.body.sids.map(parseSid).filter((id): id is number => id !== undefined);
      await repo.markRead(db, viewerOf(request).id, [...new Set(ids)]);
      return reply.code(204).send(null);
    },
  );
}
