import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { WebhookConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import * as webhooks from '../../services/webhooks.js';
import { signatureHeader } from '../../webhooks/signing.js';
import { pageWindow, paginated } from '../pagination.js';
import { viewerOf } from '../plugins/auth.js';
import { presentAttempt, presentEndpoint } from '../presenters/webhooks.js';
import { errors, ID_SEGMENT, IdParams, Page, withExample } from '../schemas/common.js';
import { exampleEndpoint, examplePage } from '../schemas/examples.js';
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
const endpointExample = withExample(EndpointRef, exampleEndpoint);
const BODY_EXAMPLE = {
  target: exampleEndpoint.target,
  description: exampleEndpoint.description,
  events: [{ type: 'connection.created' }],
};
const SECRET_EXAMPLE = 'whsec_ZXhhbXBsZS1zZWNyZXQtb2YtdGhpcnR5LXR3by1ieXRlcw';
const SENT_BODY_EXAMPLE = '{"type":"connection.created"}';
const ATTEMPT_EXAMPLE: Static<typeof Attempt> = {
  id: 12,
  created_at: '2024-05-02T10:00:01.000Z',
  event: { id: 300, type: 'connection.created', added_at: '2024-05-02T10:00:00.000Z' },
  sent_at: '2024-05-02T10:00:01.000Z',
  http_request_body: SENT_BODY_EXAMPLE,
  http_request_signature_header: signatureHeader([SECRET_EXAMPLE], 1714644001, SENT_BODY_EXAMPLE),
  http_response_code: 200,
  http_response_body: 'ok',
  error: null,
  next_retry: null,
};

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
        operationId: 'createWebhookEndpoint',
        body: withExample(EndpointBody, BODY_EXAMPLE),
        response: { 201: endpointExample, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(presentEndpoint(await webhooks.createEndpoint(db, config, request.body))),
  );

  for (const [url, summary, operationId] of [
    ['/webhook/endpoint/', 'All webhook endpoints', 'getAllWebhookEndpoints'],
    ['/webhook/endpoint/search/', 'Search webhook endpoints by target', 'searchWebhookEndpoints'],
  ] as const) {
    app.get(
      url,
      {
        config: admin,
        schema: {
          tags,
          summary,
          operationId,
          querystring: EndpointListQuery,
          response: {
            200: withExample(Page(EndpointRef), examplePage([exampleEndpoint], 'webhook/endpoint/')),
            ...errors,
          },
        },
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
        operationId: 'getAllWebhookEvents',
        response: { 200: withExample(Type.Array(Type.String()), webhooks.subscribableEventTypes()), ...errors },
      },
    },
    async () => webhooks.subscribableEventTypes(),
  );

  app.get(
    `${ENDPOINT}/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'A webhook endpoint',
        operationId: 'getASpecificWebhookEndpoint',
        params: IdParams,
        response: { 200: endpointExample, ...errors },
      },
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
        operationId: 'updateASpecificWebhookEndpoint',
        params: IdParams,
        body: withExample(EndpointBody, BODY_EXAMPLE),
        response: { 200: endpointExample, ...errors },
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
        operationId: 'updateASingleWebhookEndpointField',
        params: IdParams,
        body: withExample(EndpointPatch, { is_active: false }),
        response: { 200: withExample(EndpointRef, { ...exampleEndpoint, is_active: false }), ...errors },
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
        operationId: 'deleteWebhookEndpoint',
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
        operationId: 'revealWebhookSigningSecret',
        params: IdParams,
        response: { 201: withExample(SigningSecret, { signing_secret: SECRET_EXAMPLE }), ...errors },
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
        operationId: 'expireWebhookSigningSecret',
        params: IdParams,
        response: { 200: endpointExample, ...errors },
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
        operationId: 'getAllWebhookEndpointAttempts',
        params: IdParams,
        querystring: AttemptListQuery,
        response: {
          200: withExample(Page(Attempt), examplePage([ATTEMPT_EXAMPLE], 'webhook/endpoint/1/attempt/')),
          ...errors,
        },
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
        operationId: 'resendWebhookEndpointEvent',
        params: IdParams,
        body: withExample(ResendBody, { event: 300 }),
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
        operationId: 'resendMultipleWebhookEndpointEvent',
        params: IdParams,
        body: withExample(ResendBulkBody, { event: [300, 301] }),
        response: { 204: Type.Null({ description: 'Queued' }), ...errors },
      },
    },
    async (request, reply) => {
      await webhooks.resendEvents(db, request.params.id, request.body.event);
      return reply.code(204).send(null);
    },
  );
};
