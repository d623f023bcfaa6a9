import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { presentMe, presentUser } from '../../contracts/user.js';
import type { Database } from '../../db/database.js';
import { countUnseen } from '../../db/repositories/notifications.js';
import * as users from '../../db/repositories/users.js';
import { forbidden, notFound } from '../../domain/errors.js';
import { parseOrdering } from '../../domain/ordering.js';
import { createUser } from '../../services/users.js';
import { pageWindow, paginated } from '../pagination.js';
import { viewerOf } from '../plugins/auth.js';
import { errors, ID_SEGMENT, IdParams, Page } from '../schemas/common.js';
import {
  AccountCreateBody,
  Counters,
  ProfilePatch,
  SignupBody,
  SignupResult,
  UserListQuery,
  UserRef,
} from '../schemas/users.js';

const tags = ['users'];

export function userRoutes(base: FastifyInstance, db: Database) {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/v2/user/me/',
    {
      config: { auth: 'required' },
      schema: { tags, summary: 'The authenticated user', response: { 200: Type.Ref('Me'), ...errors } },
    },
    async (request) => {
      const viewer = viewerOf(request);
      return presentMe(viewer, await countUnseen(db, viewer.id));
    },
  );

  app.get(
    '/api/v2/user/',
    {
      config: { auth: 'required' },
      schema: { tags, summary: 'All users', querystring: UserListQuery, response: { 200: Page(UserRef), ...errors } },
    },
    async (request) => {
      const window = pageWindow(request.query);
      const ordering = request.query.ordering ?? 'id';
      const page = await users.listUsers(db, viewerOf(request).id, {
        search: request.query.search,
        username: request.query.username,
        ordering: parseOrdering(ordering),
        ...window,
      });
      return paginated(
        request,
        window,
        page.total,
        page.items.map((u) => presentUser(u, u.connection_status)),
      );
    },
  );

  app.get(
    `/api/v2/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'public' },
      schema: { tags, summary: 'A user', params: IdParams, response: { 200: UserRef, ...errors } },
    },
    async (request) => {
      const user = await users.findUserWithStatus(db, request.viewer?.id ?? null, request.params.id);
      if (!user) throw notFound('User not found.');
      return presentUser(user, user.connection_status);
    },
  );

  app.patch(
    `/api/v2/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'required' },
      // A PATCH without a body changes nothing and answers the user, as DRF does.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: "Update a user's profile (the user themself or an admin)",
        params: IdParams,
        body: ProfilePatch,
        response: { 200: UserRef, ...errors },
      },
    },
    async (request) => {
      const viewer = viewerOf(request);
      if (viewer.id !== request.params.id && viewer.role !== 'admin') {
        throw forbidden('You may only change your own profile.');
      }
      const existing = await users.findById(db, request.params.id);
      if (!existing?.is_active) throw notFound('User not found.');
      await users.updateProfile(db, request.params.id, request.body ?? {});
      const user = await users.findUserWithStatus(db, viewer.id, request.params.id);
      if (!user) throw notFound('User not found.');
      return presentUser(user, user.connection_status);
    },
  );

  app.get(
    `/api/v2/user/${ID_SEGMENT}/counters/`,
    {
      config: { auth: 'public' },
      schema: { tags, summary: "A user's counters", params: IdParams, response: { 200: Counters, ...errors } },
    },
    async (request) => {
      const user = await users.findById(db, request.params.id);
      if (!user?.is_active) throw notFound('User not found.');
      const friendship = request.community?.followEnabled !== true;
      const privileged = request.viewer !== null && (request.viewer.id === user.id || request.viewer.role === 'admin');
      return {
        discussions: null,
        posts: null,
        statuses: null,
        polls: null,
        followings: null,
        followers: null,
        categories: null,
        ...(friendship ? { connections: user.connections_count } : {}),
        ...(friendship && privileged
          ? {
              connection_requests_sent: user.requests_sent_count,
              connection_requests_received: user.requests_received_count,
            }
          : {}),
      };
    },
  );

  app.post(
    '/api/v2/sso/signup/',
    {
      config: { auth: 'admin' },
      schema: { tags, summary: 'Create a user (admin)', body: SignupBody, response: { 201: SignupResult, ...errors } },
    },
    async (request, reply) => {
      const body = request.body;
      const user = await createUser(db, body);
      return reply.code(201).send({
        id: user.id,
        ext_id: user.ext_id,
        username: user.username,
        email: user.email,
        role: user.role,
        tags: body.tags ?? null,
        avatar: user.avatar,
      });
    },
  );

  app.post(
    '/api/v2/account/create/',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Create an account (admin)',
        body: AccountCreateBody,
        response: { 201: UserRef, ...errors },
      },
    },
    async (request, reply) => {
      const user = await createUser(db, request.body);
      return reply.code(201).send(presentUser(user, null));
    },
  );
}
