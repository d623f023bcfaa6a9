import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { parseSid } from '../../contracts/notification.js';
import type { Database } from '../../db/database.js';
import {
  countUnseenNotifications,
  listNotificationsMarkingRead,
  markNotificationsRead,
} from '../../services/notifications.js';
import { modeOfRequest, viewerOf } from '../plugins/auth.js';
import { presentNotificationPage } from '../presenters/notifications.js';
import { errors, withExample } from '../schemas/common.js';
import { exampleNotificationGroup } from '../schemas/examples.js';

const tags = ['notifications'];
const PAGE = 20;
const Cursor = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

const NotificationGroup = Type.Object({
  is_new: Type.Boolean(),
  sid: Type.String(),
  aggregated: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

/** The signed-in member's notifications; registered under `/api/v2`. */
export const notificationRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/notification/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'My notifications, newest first; the listed ones become read (they show is_new as before)',
        operationId: 'listUserNotification',
        querystring: Type.Object({ next_id: Type.Optional(Cursor), previous_id: Type.Optional(Cursor) }),
        response: {
          200: withExample(
            Type.Object({
              next: Type.Union([Type.String(), Type.Null()]),
              previous: Type.Union([Type.String(), Type.Null()]),
              results: Type.Array(NotificationGroup),
            }),
            {
              next: 'https://community.example.com/api/v2/notification/?next_id=41',
              previous: null,
              results: [exampleNotificationGroup],
            },
          ),
          ...errors,
        },
      },
    },
    async (request) =>
      presentNotificationPage(
        request,
        await listNotificationsMarkingRead(db, viewerOf(request).id, request.query, PAGE, modeOfRequest(request)),
        modeOfRequest(request),
      ),
  );

  app.get(
    '/notification/unseen/count/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'How many of my notifications are unread',
        operationId: 'getUnseenNotification',
        response: { 200: withExample(Type.Object({ count: Type.Integer() }), { count: 3 }), ...errors },
      },
    },
    async (request) => ({ count: await countUnseenNotifications(db, viewerOf(request).id) }),
  );

  app.post(
    '/notification/read/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Mark notifications read by their sids (group or item)',
        operationId: 'markReadNotification',
        body: withExample(Type.Object({ sids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 }) }), {
          sids: ['g41', 'n40'],
        }),
        response: { 204: Type.Null({ description: 'Marked' }), ...errors },
      },
    },
    async (request, reply) => {
      await markNotificationsRead(db, viewerOf(request).id, request.body.sids.map(parseSid));
      return reply.code(204).send(null);
    },
  );
};
