import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WebhookConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import * as webhooks from '../../services/webhooks.js';
import { pageWindow, paginated } from '../pagination.js';
import { viewerOf } from '../plugins/auth.js';
import { presentAttempt, presentEndpoint } from '../presenters/webhooks.js';
import { errors, ID_SEGMENT, IdParams, Page } from '../schemas/common.js';
import {
  Attempt,
  AttemptListQuery,
  Endpoint,
  EndpointBody,
  EndpointListQuery,
  EndpointPatch,
  EndpointRef,
  ResendBody,
  ResendBulkBody,
  SigningSecret,
} from '../schemas/webhooks.js';

const tags = ['webhooks'];
const admin = { auth: 'admin' as const };
const ENDPOINT = `/webhook/endpoint/${ID_SEGMENT}`;

export interface WebhookRouteOptions {
  db: Database;
  config: WebhookConfig;
}

/** The admin's webhook endpoints; registered under `/api/v2`. Policy and transactions are in services/webhooks. */
export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, { db, config }) => {
  app.addSchema(Endpoint);

  app.post(
    '/webhook/endpoint/',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a webhook endpoint',
        body: EndpointBody,
        response: { 201: EndpointRef, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(presentEndpoint(await webhooks.createEndpoint(db, config, request.body))),
  );

  for (const [url, summary] of [
    ['/webhook/endpoint/', 'All webhook endpoints'],
    ['/webhook/endpoint/search/', 'Search webhook endpoints by target'],
  ] as const) {
    app.get(
      url,
      {
        config: admin,
        schema: { tags, summary, querystring: EndpointListQuery, response: { 200: Page(EndpointRef), ...errors } },
      },
      async (request) => {
        const window = pageWindow(request.query);
        const page = await webhooks.listEndpoints(db, { ...request.query, ...window });
        return paginated(request, window, page.total, page.items.map(presentEndpoint));
      },
    );
  }

  app.get(
    '/webhook/endpoint/event/',
    {
      config: admin,
      schema: {
        tags,
        summary: 'The event types an endpoint can subscribe to',
        response: { 200: Type.Array(Type.String()), ...errors },
      },
    },
    async () => webhooks.subscribableEventTypes(),
  );

  app.get(
    `${ENDPOINT}/`,
    {
      config: admin,
      schema: { tags, summary: 'A webhook endpoint', params: IdParams, response: { 200: EndpointRef, ...errors } },
    },
    async (request) => presentEndpoint(await webhooks.getEndpoint(db, request.params.id)),
  );

  app.put(
    `${ENDPOINT}/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Replace a webhook endpoint',
        params: IdParams,
        body: EndpointBody,
        response: { 200: EndpointRef, ...errors },
      },
    },
    async (request) => presentEndpoint(await webhooks.updateEndpoint(db, config, request.params.id, request.body)),
  );

  app.patch(
    `${ENDPOINT}/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Update fields of a webhook endpoint',
        params: IdParams,
        body: EndpointPatch,
        response: { 200: EndpointRef, ...errors },
      },
    },
    async (request) =>
      presentEndpoint(await webhooks.updateEndpoint(db, config, request.params.id, request.body ?? {})),
  );

  app.delete(
    `${ENDPOINT}/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Delete a webhook endpoint',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.deleteEndpoint(db, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${ENDPOINT}/secret/reveal/`,
    {
      config: admin,
      schema: {
        tags,
        summary: "Reveal the endpoint's signing secret",
        params: IdParams,
        response: { 201: SigningSecret, ...errors },
      },
    },
    async (request, reply) => {
      // The body is optional ({"password": "..."} or nothing), so the service checks it rather than a schema.
      const password = (request.body as { password?: unknown } | undefined)?.password;
      const secret = await webhooks.revealSecret(db, viewerOf(request).id, request.params.id, password);
      return reply.code(201).send({ signing_secret: secret });
    },
  );

  app.post(
    `${ENDPOINT}/secret/expire/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Expire the signing secret (the old one keeps signing for 24 h)',
        params: IdParams,
        response: { 200: EndpointRef, ...errors },
      },
    },
    async (request) => presentEndpoint(await webhooks.expireSecret(db, request.params.id)),
  );

  app.get(
    `${ENDPOINT}/attempt/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Delivery attempts to the endpoint, newest first',
        params: IdParams,
        querystring: AttemptListQuery,
        response: { 200: Page(Attempt), ...errors },
      },
    },
    async (request) => {
      const window = pageWindow(request.query);
      const page = await webhooks.listAttempts(db, request.params.id, { ...request.query, ...window });
      return paginated(request, window, page.total, page.items.map(presentAttempt));
    },
  );

  app.post(
    `${ENDPOINT}/event/resend/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Send an event to the endpoint again',
        params: IdParams,
        body: ResendBody,
        response: { 204: Type.Null({ description: 'Queued' }), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.resendEvents(db, request.params.id, [request.body.event]);
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${ENDPOINT}/event/resend/bulk/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Send several events to the endpoint again',
        params: IdParams,
        body: ResendBulkBody,
        response: { 204: Type.Null({ description: 'Queued' }), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.resendEvents(db, request.params.id, request.body.event);
      return reply.code(204).send(null);
    },
  );
};
