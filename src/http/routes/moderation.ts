import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { listForModeration, moderateMember } from '../../services/moderation.js';
import { pageWindow, paginated } from '../pagination.js';
import { modeOfRequest, viewerOf } from '../plugins/auth.js';
import { presentModerationUser } from '../presenters/moderation.js';
import { errors, ID_SEGMENT, IdParams, Page, withExample } from '../schemas/common.js';
import { examplePage, exampleRow } from '../schemas/examples.js';
import { ModerateBody, ModerateQuery, ModerationListQuery, ModerationUser } from '../schemas/moderation.js';

const tags = ['moderation'];

const blockedAt = new Date('2024-05-02T10:00:00.000Z');
const EXAMPLE = presentModerationUser(
  {
    ...exampleRow,
    is_active: false,
    blocked_at: blockedAt,
    days_blocked: 7,
    block_expires_at: new Date(blockedAt.getTime() + 7 * 86_400_000),
  },
  'friendship',
);

/** Moderation of members (administrators), as SelfCommunity's SDK calls it; registered under `/api/v2`. */
export const moderationRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/moderation/user/',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Members for moderation (admin): blocked and deactivated ones included, deleted ones not',
        operationId: 'getUsersForModeration',
        querystring: ModerationListQuery,
        response: { 200: withExample(Page(ModerationUser), examplePage([EXAMPLE], 'moderation/user/')), ...errors },
      },
    },
    async (request) => {
      const window = pageWindow(request.query);
      const mode = modeOfRequest(request);
      const page = await listForModeration(db, { ...request.query, ...window });
      return paginated(
        request,
        window,
        page.total,
        page.items.map((u) => presentModerationUser(u, mode)),
      );
    },
  );

  app.patch(
    `/moderation/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Moderate a member (admin): block (b, ?days_blocked=N|forever), unblock (a) or delete (d)',
        operationId: 'moderateASpecificUser',
        params: IdParams,
        querystring: ModerateQuery,
        body: withExample(ModerateBody, { status: 'b' }),
        response: {
          200: withExample(ModerationUser, EXAMPLE),
          204: Type.Null({ description: 'Deleted (status d)' }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const user = await moderateMember(db, id, viewerOf(request).id, { ...request.body, ...request.query });
      if (!user) return reply.code(204).send(null);
      return presentModerationUser(user, modeOfRequest(request));
    },
  );
};
