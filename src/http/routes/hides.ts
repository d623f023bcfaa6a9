import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { presentUser } from '../../contracts/user.js';
import type { Database } from '../../db/database.js';
import { toggleHide } from '../../services/connections.js';
import { hiddenUserIds, isHidden, isHiddenBy, listHiddenUsers, listHiddenVersions } from '../../services/hides.js';
import { entityTag, isConditional, rowsTagParts, sentNotModified, tagged } from '../etag.js';
import { pageWindow, paginated } from '../pagination.js';
import { admitFoundAndLimit, modeOfRequest, tokenUserOf, viewerOf } from '../plugins/auth.js';
import { errors, ID_SEGMENT, IdParams, Page, withExample } from '../schemas/common.js';
import { examplePage, exampleUser } from '../schemas/examples.js';
import { HiddenUsersQuery, IsHidden, IsHiddenBy } from '../schemas/hides.js';
import { UserRef } from '../schemas/users.js';

const tags = ['hides'];

/** Hiding members (`user/show_hide_user.md` and the hidden checks and lists), in either mode, under /api/v2. */
export const hideRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.post(
    `/user/${ID_SEGMENT}/hide/`,
    {
      // The move's first statement loads the member with the pair it locks (services/connections.ts).
      config: { auth: 'required', memberInStatement: true },
      schema: {
        tags,
        summary: 'Hide the user, or show them again when I already hide them (a toggle)',
        operationId: 'showHideUser',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Hidden or shown again' }), ...errors },
      },
    },
    async (request, reply) => {
      await toggleHide(db, tokenUserOf(request), request.params.id, (found) => admitFoundAndLimit(request, found));
      return reply.code(204).send(null);
    },
  );

  app.get(
    `/user/${ID_SEGMENT}/is_hidden/`,
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Whether I hide the user',
        operationId: 'checkUserHidden',
        params: IdParams,
        response: { 200: withExample(IsHidden, { is_hidden: true }), ...errors },
      },
    },
    async (request) => ({ is_hidden: await isHidden(db, viewerOf(request).id, request.params.id) }),
  );

  app.get(
    `/user/${ID_SEGMENT}/is_hidden_by/`,
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Whether the user hides me',
        operationId: 'checkUserHiddenBy',
        params: IdParams,
        response: { 200: withExample(IsHiddenBy, { is_hidden_by: false }), ...errors },
      },
    },
    async (request) => ({ is_hidden_by: await isHiddenBy(db, viewerOf(request).id, request.params.id) }),
  );

  app.get(
    '/user/hidden_users/',
    {
      config: { auth: 'required', etag: true },
      schema: {
        tags,
        summary: 'The users I hide, the last hidden first',
        operationId: 'getHiddenUsers',
        querystring: HiddenUsersQuery,
        response: { 200: withExample(Page(UserRef), examplePage([exampleUser], 'user/hidden_users/')), ...errors },
      },
    },
    async (request, reply) => {
      const window = pageWindow(request.query);
      const mode = modeOfRequest(request);
      const viewer = viewerOf(request);
      const query = { ...request.query, ...window };
      if (isConditional(request)) {
        const found = await listHiddenVersions(db, viewer.id, query);
        if (sentNotModified(request, reply, rowsTagParts(viewer.graph_version, found.total, found.items))) return reply;
      }
      const page = await listHiddenUsers(db, viewer.id, query, mode);
      tagged(reply, entityTag(request, rowsTagParts(viewer.graph_version, page.total, page.items)));
      return paginated(
        request,
        window,
        page.total,
        page.items.map((u) => presentUser(u, u.connection_status, mode)),
      );
    },
  );

  app.get(
    '/user/hidden_users_id/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Ids of the users I hide',
        operationId: 'getHiddenUsersId',
        response: { 200: withExample(Type.Array(Type.Integer()), [5, 9]), ...errors },
      },
    },
    async (request) => hiddenUserIds(db, viewerOf(request).id),
  );
};
