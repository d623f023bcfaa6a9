import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { type Static, Type } from 'typebox';
import type { Database } from '../../db/database.js';
import type { RequestList } from '../../db/pages/request-pages.js';
import type { ConnectionAction } from '../../domain/connection-state.js';
import {
  connectionsOf,
  connectionsVersions,
  isConnection,
  requestList,
  requestListVersions,
  statusesTowards,
  statusTowards,
} from '../../services/connection-reads.js';
import { type ActLimits, type Admit, act } from '../../services/connections.js';
import { userVersion } from '../../services/users.js';
import {
  entityTag,
  isConditional,
  pageDependencies,
  pageTagParts,
  sentNotModified,
  tagAnswer,
  tagged,
} from '../etag.js';
import { CursorParam, cursorAfterGate, pageWindow, sendPage } from '../pagination.js';
import { admitFound, admitFoundAndLimit, modeOfRequest, tokenUserOf, viewerOf } from '../plugins/auth.js';
import { bySender } from '../plugins/rate-limits.js';
import { errors, ID_SEGMENT, IdParams, Page, PageQuery, throttledResponse, withExample } from '../schemas/common.js';
import { ConnectionsQuery, ReceivedQuery, StatusBody, StatusesBody, StatusesResult } from '../schemas/connections.js';
import { exampleConnectionRequest, examplePage, exampleUser } from '../schemas/examples.js';
import { UserRef } from '../schemas/users.js';

const tags = ['connections'];

/** Each action, its summary, the SDK's method for it (UserService) and the status it answers with. */
const ACTIONS: Array<{
  action: Exclude<ConnectionAction, 'mark_seen'>;
  summary: string;
  operationId: string;
  example: Static<typeof StatusBody>['connection_status'];
}> = [
  {
    action: 'request',
    summary: 'Request a connection to the user',
    operationId: 'userRequestConnection',
    example: 'sent_connection_request',
  },
  {
    action: 'accept',
    summary: "Accept the user's connection request",
    operationId: 'userAcceptRequestConnection',
    example: 'connected',
  },
  {
    action: 'reject',
    summary: "Reject the user's connection request",
    operationId: 'userRejectConnectionRequest',
    example: null,
  },
  {
    action: 'cancel_request',
    summary: 'Cancel my connection request to the user',
    operationId: 'userCancelRequestConnection',
    example: null,
  },
  {
    action: 'cancel_reject',
    summary: "Restore a rejected request of the user's",
    operationId: 'userCancelRejectConnectionRequest',
    example: 'received_connection_request',
  },
  {
    action: 'remove',
    summary: 'Remove the connection with the user',
    operationId: 'userRemoveConnection',
    example: null,
  },
];

/** The friendship endpoints, under /api/v2. */
export const connectionRoutes: FastifyPluginAsync<{ db: Database; limits: ActLimits }> = async (
  base,
  { db, limits },
) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  for (const { action, summary, operationId, example } of ACTIONS) {
    app.post(
      `/user/${ID_SEGMENT}/connection/${action}/`,
      {
        // Only a request reaches someone new (a notification, a pending row): the one action limited.
        // The move's first statement loads the member with the pair it locks (services/connections.ts).
        config: {
          auth: 'required',
          friendship: true,
          memberInStatement: true,
          limits: action === 'request' ? [{ limit: 'connectionRequests', key: bySender }] : [],
        },
        schema: {
          tags,
          summary,
          operationId,
          params: IdParams,
          response: {
            200: withExample(StatusBody, { connection_status: example }),
            ...errors,
            ...(action === 'request' && { 429: throttledResponse }),
          },
        },
      },
      async (request) => {
        const admit = (found: Parameters<Admit>[0]) => admitFoundAndLimit(request, found);
        const status = await act(db, tokenUserOf(request), request.params.id, action, limits, admit);
        return { connection_status: status };
      },
    );
  }

  app.post(
    `/user/${ID_SEGMENT}/connection_requests/mark_seen/`,
    {
      config: { auth: 'required', memberInStatement: true },
      schema: {
        tags,
        summary: "Mark the user's connection request to me as seen",
        operationId: 'userMarkSeenConnectionRequest',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Marked' }), ...errors },
      },
    },
    async (request, reply) => {
      const admit = (found: Parameters<Admit>[0]) => admitFoundAndLimit(request, found);
      await act(db, tokenUserOf(request), request.params.id, 'mark_seen', limits, admit);
      return reply.code(204).send(null);
    },
  );

  const receivedRoute = (operationId: string) => ({
    config: { auth: 'required' as const, friendship: true, memberInStatement: true, replica: true, etag: true },
    schema: {
      tags,
      summary: 'Connection requests I received, newest first',
      operationId,
      querystring: Type.Object({ ...ReceivedQuery.properties, cursor: CursorParam }),
      response: {
        200: withExample(
          Page(Type.Ref('ConnectionRequest')),
          examplePage([exampleConnectionRequest], 'user/connection/requests/'),
        ),
        ...errors,
      },
    },
  });
  // Lists answer with JSON text the database built from the stored user JSON (see db/pages).
  // The second path is the one of the reference page's own example; the SDK calls the first.
  for (const [url, operationId] of [
    ['/user/connection/requests/', 'getUserConnectionRequests'],
    ['/user/connection_requests/', 'getUserConnectionRequestsAlias'],
  ] as const) {
    app.get(url, receivedRoute(operationId), async (request, reply) => {
      const window = pageWindow(request.query);
      const list: RequestList = request.query.rejected === true ? 'rejected' : 'pending';
      const scope = `${list}:${tokenUserOf(request)}`;
      const after = await cursorAfterGate(request, request.query.cursor, { list: scope, window });
      const query = { list, ...window, after };
      // The viewer owns the list: their version is the page's owner version.
      const viewer = tokenUserOf(request);
      if (isConditional(request)) {
        const found = await request.reads.run((db) => requestListVersions(db, viewer, query));
        admitFound(request, found);
        const deps = pageDependencies({ id: viewer, tokens_not_before: found.tokens_not_before }, viewer, found);
        if (sentNotModified(request, reply, pageTagParts(null, found), deps)) return reply;
      }
      const page = await request.reads.run((db) => requestList(db, viewer, query));
      admitFound(request, page);
      const deps = pageDependencies({ id: viewer, tokens_not_before: page.tokens_not_before }, viewer, page.versions);
      tagAnswer(request, reply, pageTagParts(null, page.versions), deps);
      return sendPage(reply, request, window, page, scope);
    });
  }

  app.get(
    '/user/connection/requests_sent/',
    {
      config: { auth: 'required', friendship: true, memberInStatement: true, replica: true, etag: true },
      schema: {
        tags,
        summary: 'Connection requests I sent that still wait, newest first',
        operationId: 'getUserRequestConnectionsSent',
        querystring: Type.Object({ ...PageQuery.properties, cursor: CursorParam }),
        response: {
          200: withExample(
            Page(Type.Ref('ConnectionRequest')),
            examplePage([exampleConnectionRequest], 'user/connection/requests_sent/'),
          ),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const window = pageWindow(request.query);
      const scope = `sent:${tokenUserOf(request)}`;
      const after = await cursorAfterGate(request, request.query.cursor, { list: scope, window });
      const query = { list: 'sent' as const, ...window, after };
      const viewer = tokenUserOf(request);
      if (isConditional(request)) {
        const found = await request.reads.run((db) => requestListVersions(db, viewer, query));
        admitFound(request, found);
        const deps = pageDependencies({ id: viewer, tokens_not_before: found.tokens_not_before }, viewer, found);
        if (sentNotModified(request, reply, pageTagParts(null, found), deps)) return reply;
      }
      const page = await request.reads.run((db) => requestList(db, viewer, query));
      admitFound(request, page);
      const deps = pageDependencies({ id: viewer, tokens_not_before: page.tokens_not_before }, viewer, page.versions);
      tagAnswer(request, reply, pageTagParts(null, page.versions), deps);
      return sendPage(reply, request, window, page, scope);
    },
  );

  app.get(
    `/user/${ID_SEGMENT}/connections/`,
    {
      config: { auth: 'public', friendship: true, replica: true, etag: true },
      schema: {
        tags,
        summary: "A user's connections: shared ones first, then the others, newest first",
        operationId: 'getUserConnections',
        params: IdParams,
        querystring: ConnectionsQuery,
        response: { 200: withExample(Page(UserRef), examplePage([exampleUser], 'user/3/connections/')), ...errors },
      },
    },
    async (request, reply) => {
      const window = pageWindow(request.query);
      const mutual = request.query.mutual === undefined ? undefined : request.query.mutual === 1;
      const viewerId = request.viewer?.id ?? null;
      // The viewer's version (from the gate's row) covers the statuses and the mutual order.
      const viewerVersion = request.viewer?.graph_version ?? null;
      if (isConditional(request)) {
        const versions = await request.reads.run((db) =>
          connectionsVersions(db, viewerId, request.params.id, { mutual, ...window }),
        );
        const deps = pageDependencies(request.viewer, request.params.id, versions);
        if (sentNotModified(request, reply, pageTagParts(viewerVersion, versions), deps)) return reply;
      }
      const page = await request.reads.run((db) =>
        connectionsOf(db, viewerId, request.params.id, { mutual, ...window }),
      );
      const deps = pageDependencies(request.viewer, request.params.id, page.versions);
      tagAnswer(request, reply, pageTagParts(viewerVersion, page.versions), deps);
      return sendPage(reply, request, window, page);
    },
  );

  app.get(
    `/user/${ID_SEGMENT}/is_connection/`,
    {
      config: { auth: 'required', replica: true },
      schema: {
        tags,
        summary: 'Whether the user is connected with me',
        operationId: 'checkUserConnections',
        params: IdParams,
        response: {
          200: withExample(Type.Object({ is_connection: Type.Boolean() }), { is_connection: true }),
          ...errors,
        },
      },
    },
    async (request) => ({
      is_connection: await request.reads.run((db) => isConnection(db, viewerOf(request).id, request.params.id)),
    }),
  );

  app.get(
    `/user/${ID_SEGMENT}/connection_status/`,
    {
      config: { auth: 'required', replica: true, etag: true },
      schema: {
        tags,
        summary: 'My connection status towards the user',
        // No SDK method calls it; named after the SDK's endpoint constant (UserCheckConnectionStatus).
        operationId: 'userCheckConnectionStatus',
        params: IdParams,
        response: { 200: withExample(StatusBody, { connection_status: 'sent_connection_request' }), ...errors },
      },
    },
    async (request, reply) => {
      // The pair's rows bump the viewer's version; the other's version says they are still there.
      const viewer = viewerOf(request);
      if (isConditional(request)) {
        const version = await request.reads.run((db) => userVersion(db, request.params.id));
        if (sentNotModified(request, reply, [viewer.graph_version, version])) return reply;
      }
      const found = await request.reads.run((db) =>
        statusTowards(db, viewer.id, request.params.id, modeOfRequest(request)),
      );
      tagged(reply, entityTag(request, [viewer.graph_version, found.version]));
      return { connection_status: found.status };
    },
  );

  app.post(
    '/user/connection/statuses/',
    {
      config: { auth: 'required', replica: true },
      schema: {
        tags,
        summary: 'My connection status towards each of these users',
        operationId: 'getUserConnectionStatuses',
        body: withExample(StatusesBody, { users: [2, 3, 4] }),
        response: {
          200: withExample(StatusesResult, {
            connection_statuses: { '2': 'connected', '3': 'received_connection_request', '4': null },
          }),
          ...errors,
        },
      },
    },
    async (request) => ({
      connection_statuses: await request.reads.run((db) =>
        statusesTowards(db, viewerOf(request).id, request.body.users, modeOfRequest(request)),
      ),
    }),
  );
};
