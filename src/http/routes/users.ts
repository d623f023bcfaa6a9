import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { presentMe, presentUser } from '../../contracts/user.js';
import type { Database } from '../../db/database.js';
import { deleteMember } from '../../services/member-admin.js';
import {
  createUser,
  getCounters,
  getMe,
  getUser,
  listUsers,
  listUserVersions,
  updateProfile,
  userVersion,
} from '../../services/users.js';
import { entityTag, isConditional, rowsTagParts, sentNotModified, tagged } from '../etag.js';
import { pageWindow, paginated } from '../pagination.js';
import { modeOfRequest, viewerOf } from '../plugins/auth.js';
import { presentCounters, presentSignup } from '../presenters/users.js';
import { errors, ID_SEGMENT, IdParams, Page, withExample } from '../schemas/common.js';
import { exampleMe, examplePage, exampleRow, exampleUser } from '../schemas/examples.js';
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

/** What the owner sees in friendship mode: the follow counters and those of features kith does not have are null. */
const EXAMPLE_COUNTERS = presentCounters({
  connections: 12,
  connection_requests_sent: 1,
  connection_requests_received: 2,
});

/** Users, profiles, counters and admin signups; registered under `/api/v2`. */
export const userRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/user/me/',
    {
      config: { auth: 'required', replica: true, etag: true },
      schema: {
        tags,
        summary: 'The authenticated user',
        operationId: 'getCurrentUser',
        response: { 200: withExample(Type.Ref('Me'), exampleMe), ...errors },
      },
    },
    async (request, reply) => {
      const me = await request.reads.run((db) => getMe(db, viewerOf(request)));
      // Their row (any change bumps its version) and the unread count are all it shows.
      const parts = [me.user.graph_version, me.unseenNotifications];
      if (sentNotModified(request, reply, parts)) return reply;
      tagged(reply, entityTag(request, parts));
      return presentMe(me.user, modeOfRequest(request), me.unseenNotifications);
    },
  );

  app.get(
    '/user/',
    {
      config: { auth: 'required', replica: true, etag: true },
      schema: {
        tags,
        summary: 'All users',
        operationId: 'getAllUsers',
        querystring: UserListQuery,
        response: { 200: withExample(Page(UserRef), examplePage([exampleUser], 'user/')), ...errors },
      },
    },
    async (request, reply) => {
      const window = pageWindow(request.query);
      const mode = modeOfRequest(request);
      const query = { ...request.query, ...window };
      const viewer = viewerOf(request);
      if (isConditional(request)) {
        const found = await request.reads.run((db) => listUserVersions(db, query));
        if (sentNotModified(request, reply, rowsTagParts(viewer.graph_version, found.total, found.items))) return reply;
      }
      const page = await request.reads.run((db) => listUsers(db, viewer.id, query, mode));
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
    `/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'public', replica: true, etag: true },
      schema: {
        tags,
        summary: 'A user',
        operationId: 'getSpecificUser',
        params: IdParams,
        response: { 200: withExample(UserRef, exampleUser), ...errors },
      },
    },
    async (request, reply) => {
      const mode = modeOfRequest(request);
      const viewerId = request.viewer?.id ?? null;
      // Their row (the profile) and the viewer's (the status) are all it shows.
      const viewerVersion = request.viewer?.graph_version ?? null;
      if (isConditional(request)) {
        const version = await request.reads.run((db) => userVersion(db, request.params.id));
        if (sentNotModified(request, reply, [viewerVersion, version])) return reply;
      }
      const user = await request.reads.run((db) => getUser(db, viewerId, request.params.id, mode));
      tagged(reply, entityTag(request, [viewerVersion, user.graph_version]));
      return presentUser(user, user.connection_status, mode);
    },
  );

  app.patch(
    `/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'required' },
      // A PATCH without a body changes nothing and answers the user, as DRF does.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: "Update a user's profile (the user themself or an admin)",
        operationId: 'userPatch',
        params: IdParams,
        body: withExample(ProfilePatch, { bio: 'Analyst of engines', location: 'London' }),
        response: {
          200: withExample(UserRef, { ...exampleUser, bio: 'Analyst of engines', location: 'London' }),
          ...errors,
        },
      },
    },
    async (request) => {
      const user = await updateProfile(db, viewerOf(request), request.params.id, request.body ?? {});
      return presentUser(user, user.connection_status, modeOfRequest(request));
    },
  );

  app.delete(
    `/user/${ID_SEGMENT}/`,
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Delete a user (admin): relations dissolved, personal fields erased, the id never reused',
        operationId: 'userDelete',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors },
      },
    },
    async (request, reply) => {
      await deleteMember(db, { id: request.params.id }, viewerOf(request).id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    `/user/${ID_SEGMENT}/counters/`,
    {
      config: { auth: 'public', replica: true },
      schema: {
        tags,
        summary: "A user's counters",
        operationId: 'getUserCounters',
        params: IdParams,
        response: { 200: withExample(Counters, EXAMPLE_COUNTERS), ...errors },
      },
    },
    async (request) => {
      const counters = await request.reads.run((db) =>
        getCounters(db, request.viewer, request.community, request.params.id),
      );
      return presentCounters(counters);
    },
  );

  app.post(
    '/sso/signup/',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Create a user (admin)',
        operationId: 'SignUp',
        body: withExample(SignupBody, { username: 'ada', ext_id: 'crm-1842', email: 'ada@example.com' }),
        response: {
          201: withExample(SignupResult, presentSignup({ ...exampleRow, ext_id: 'crm-1842' }, null)),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const user = await createUser(db, request.body);
      return reply.code(201).send(presentSignup(user, request.body.tags ?? null));
    },
  );

  app.post(
    '/account/create/',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Create an account (admin)',
        operationId: 'create',
        body: withExample(AccountCreateBody, {
          username: 'ada',
          email: 'ada@example.com',
          password: 'Correct-horse-7',
        }),
        response: {
          201: withExample(UserRef, { ...exampleUser, connection_status: null, connections_counter: 0 }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const user = await createUser(db, request.body);
      return reply.code(201).send(presentUser(user, null, modeOfRequest(request)));
    },
  );
};
