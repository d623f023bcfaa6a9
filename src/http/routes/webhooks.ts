import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { WebhookConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import * as repo from '../../db/repositories/webhooks.js';
import { AppError, invalid, notFound } from '../../domain/errors.js';
import { CONNECTION_EVENT_TYPES } from '../../domain/events.js';
import { checkPassword } from '../../services/users.js';
import { newSigningSecret } from '../../webhooks/signing.js';
import { targetProblem } from '../../webhooks/targets.js';
import { pageWindow, paginated } from '../pagination.js';
import { viewerOf } from '../plugins/auth.js';
import { errors, ID_SEGMENT, Id, IdParams, Nullable, Page, PageQuery } from '../schemas/common.js';

const tags = ['webhooks'];
const SECRET_GRACE_MS = 24 * 3600 * 1000;
const DateTime = Type.String({ format: 'date-time' });

const Endpoint = Type.Object(
  {
    id: Type.Integer(),
    created_at: DateTime,
    updated_at: DateTime,
    is_active: Type.Boolean(),
    target: Type.String(),
    description: Type.String(),
    events: Type.Array(Type.Object({ type: Type.String(), added_at: DateTime })),
    ssl_cert_verification: Type.Boolean(),
    disabled_reason: Nullable(Type.String({ description: 'Why kith switched the endpoint off, if it did' })),
  },
  { $id: 'WebhookEndpoint' },
);

const EventType = Type.String({ maxLength: 100 });
const EndpointFields = {
  is_active: Type.Boolean(),
  target: Type.String({ maxLength: 2000 }),
  description: Type.String({ maxLength: 1000 }),
  events: Type.Array(Type.Object({ type: EventType }), { maxItems: 100 }),
  ssl_cert_verification: Type.Boolean(),
};
const EndpointBody = Type.Object({
  target: EndpointFields.target,
  events: EndpointFields.events,
  is_active: Type.Optional(EndpointFields.is_active),
  description: Type.Optional(EndpointFields.description),
  ssl_cert_verification: Type.Optional(EndpointFields.ssl_cert_verification),
});
const EndpointPatch = Type.Partial(Type.Object(EndpointFields));

function present(e: repo.EndpointWithEvents) {
  return {
    id: e.id,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
    is_active: e.is_active,
    target: e.target,
    description: e.description,
    events: e.events.map((ev) => ({ type: ev.type, added_at: ev.added_at.toISOString() })),
    ssl_cert_verification: e.ssl_cert_verification,
    disabled_reason: e.disabled_reason,
  };
}

const KNOWN = new Set<string>(CONNECTION_EVENT_TYPES);

function eventTypes(events: Array<{ type: string }>): string[] {
  const unknown = events.map((e) => e.type).filter((t) => !KNOWN.has(t));
  if (unknown.length > 0) {
    throw invalid(`events: unknown event type(s): ${unknown.join(', ')}.`, {
      events: [`Unknown event type(s): ${unknown.join(', ')}. See GET /api/v2/webhook/endpoint/event/.`],
    });
  }
  return [...new Set(events.map((e) => e.type))];
}

async function checkTarget(target: string, config: WebhookConfig) {
  const problem = await targetProblem(target, config.allowPrivate);
  if (problem) throw invalid(`target: ${problem}`, { target: [problem] });
}

export function webhookRoutes(base: FastifyInstance, db: Database, config: WebhookConfig) {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(Endpoint);
  const EndpointRef = Type.Ref('WebhookEndpoint');
  const admin = { auth: 'admin' as const };

  async function load(id: number) {
    const [endpoint] = await repo.findEndpoints(db, [id]);
    if (!endpoint) throw notFound('Webhook endpoint not found.');
    return endpoint;
  }

  app.post(
    '/api/v2/webhook/endpoint/',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a webhook endpoint',
        body: EndpointBody,
        response: { 201: EndpointRef, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const types = eventTypes(body.events);
      await checkTarget(body.target, config);
      const id = await repo.insertEndpoint(
        db,
        {
          target: body.target,
          description: body.description ?? '',
          is_active: body.is_active ?? true,
          ssl_cert_verification: body.ssl_cert_verification ?? true,
          signing_secret: newSigningSecret(),
        },
        types,
      );
      return reply.code(201).send(present(await load(id)));
    },
  );

  const ListQuery = Type.Object({
    ...PageQuery.properties,
    ordering: Type.Optional(
      Type.Union(
        ['created_at', '-created_at', 'updated_at', '-updated_at', 'is_active', '-is_active'].map((v) =>
          Type.Literal(v),
        ),
      ),
    ),
    target: Type.Optional(Type.String({ maxLength: 2000 })),
  });
  for (const [url, summary] of [
    ['/api/v2/webhook/endpoint/', 'All webhook endpoints'],
    ['/api/v2/webhook/endpoint/search/', 'Search webhook endpoints by target'],
  ] as const) {
    app.get(
      url,
      {
        config: admin,
        schema: { tags, summary, querystring: ListQuery, response: { 200: Page(EndpointRef), ...errors } },
      },
      async (request) => {
        const window = pageWindow(request.query);
        const ordering = request.query.ordering ?? '-created_at';
        const { ids, total } = await repo.listEndpointIds(db, {
          target: request.query.target,
          orderBy: ordering.replace('-', '') as 'created_at' | 'updated_at' | 'is_active',
          descending: ordering.startsWith('-'),
          ...window,
        });
        return paginated(request, window, total, (await repo.findEndpoints(db, ids)).map(present));
      },
    );
  }

  app.get(
    '/api/v2/webhook/endpoint/event/',
    {
      config: admin,
      schema: {
        tags,
        summary: 'The event types an endpoint can subscribe to',
        response: { 200: Type.Array(Type.String()), ...errors },
      },
    },
    async () => [...CONNECTION_EVENT_TYPES],
  );

  app.get(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/`,
    {
      config: admin,
      schema: { tags, summary: 'A webhook endpoint', params: IdParams, response: { 200: EndpointRef, ...errors } },
    },
    async (request) => present(await load(request.params.id)),
  );

  const update = async (
    id: number,
    body: Partial<{
      target: string;
      description: string;
      is_active: boolean;
      ssl_cert_verification: boolean;
      events: Array<{ type: string }>;
    }>,
  ) => {
    const types = body.events ? eventTypes(body.events) : undefined;
    if (body.target !== undefined) await checkTarget(body.target, config);
    const { events: _events, ...fields } = body;
    if (!(await repo.updateEndpoint(db, id, fields, types))) throw notFound('Webhook endpoint not found.');
    return present(await load(id));
  };
  app.put(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/`,
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
    async (request) => update(request.params.id, request.body),
  );
  app.patch(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/`,
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
    async (request) => update(request.params.id, request.body ?? {}),
  );

  app.delete(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/`,
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
      if (!(await repo.deleteEndpoint(db, request.params.id))) throw notFound('Webhook endpoint not found.');
      return reply.code(204).send(null);
    },
  );

  app.post(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/secret/reveal/`,
    {
      config: admin,
      schema: {
        tags,
        summary: "Reveal the endpoint's signing secret",
        params: IdParams,
        response: { 201: Type.Object({ signing_secret: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      // The body is optional ({"password": "..."} or nothing), so it is checked here rather than by a schema.
      const password = (request.body as { password?: unknown } | undefined)?.password;
      if (
        password !== undefined &&
        (typeof password !== 'string' || !(await checkPassword(viewerOf(request), password)))
      ) {
        throw new AppError(400, 'invalid', 'password: The password is not correct.', {
          errors: { password: ['The password is not correct.'] },
        });
      }
      const endpoint = await load(request.params.id);
      return reply.code(201).send({ signing_secret: endpoint.signing_secret });
    },
  );

  app.post(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/secret/expire/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Expire the signing secret (the old one keeps signing for 24 h)',
        params: IdParams,
        response: { 200: EndpointRef, ...errors },
      },
    },
    async (request) => {
      const ok = await repo.rotateSecret(
        db,
        request.params.id,
        newSigningSecret(),
        new Date(Date.now() + SECRET_GRACE_MS),
      );
      if (!ok) throw notFound('Webhook endpoint not found.');
      return present(await load(request.params.id));
    },
  );

  const AttemptsQuery = Type.Object({
    ...PageQuery.properties,
    ordering: Type.Optional(
      Type.Union(
        ['created_at', '-created_at', 'sent_at', '-sent_at', 'next_retry', '-next_retry'].map((v) => Type.Literal(v)),
      ),
    ),
  });
  app.get(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/attempt/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Delivery attempts to the endpoint, newest first',
        params: IdParams,
        querystring: AttemptsQuery,
        response: {
          200: Page(
            Type.Object({
              id: Type.Integer(),
              created_at: DateTime,
              event: Type.Object({ id: Type.Integer(), type: Type.String(), added_at: DateTime }),
              sent_at: DateTime,
              http_request_body: Type.String(),
              http_request_signature_header: Type.String(),
              http_response_code: Nullable(Type.Integer()),
              http_response_body: Type.String(),
              error: Nullable(Type.String()),
              next_retry: Nullable(DateTime),
            }),
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      await load(request.params.id);
      const window = pageWindow(request.query);
      const ordering = request.query.ordering ?? '-created_at';
      const { rows, total } = await repo.listAttempts(
        db,
        request.params.id,
        ordering.replace('-', '') as 'created_at' | 'sent_at' | 'next_retry',
        ordering.startsWith('-'),
        window.limit,
        window.offset,
      );
      return paginated(
        request,
        window,
        total,
        rows.map((a) => ({
          id: a.id,
          created_at: a.created_at.toISOString(),
          event: { id: a.event_id, type: a.event_type, added_at: a.event_created.toISOString() },
          sent_at: a.sent_at.toISOString(),
          http_request_body: a.http_request_body,
          http_request_signature_header: a.http_request_signature_header,
          http_response_code: a.http_response_code,
          http_response_body: a.http_response_body,
          error: a.error,
          next_retry: a.next_retry ? a.next_retry.toISOString() : null,
        })),
      );
    },
  );

  const resend = async (id: number, events: number[]) => {
    await load(id);
    const found = await repo.requeue(db, id, [...new Set(events)], new Date());
    const missing = events.filter((e) => !found.includes(e));
    if (missing.length > 0) throw notFound(`Event(s) not found: ${missing.join(', ')}.`);
  };
  app.post(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/event/resend/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Send an event to the endpoint again',
        params: IdParams,
        body: Type.Object({ event: Id }),
        response: { 204: Type.Null({ description: 'Queued' }), ...errors },
      },
    },
    async (request, reply) => {
      await resend(request.params.id, [request.body.event]);
      return reply.code(204).send(null);
    },
  );
  app.post(
    `/api/v2/webhook/endpoint/${ID_SEGMENT}/event/resend/bulk/`,
    {
      config: admin,
      schema: {
        tags,
        summary: 'Send several events to the endpoint again',
        params: IdParams,
        body: Type.Object({ event: Type.Array(Id, { minItems: 1, maxItems: 1000 }) }),
        response: { 204: Type.Null({ description: 'Queued' }), ...errors },
      },
    },
    async (request, reply) => {
      await resend(request.params.id, request.body.event);
      return reply.code(204).send(null);
    },
  );
}
