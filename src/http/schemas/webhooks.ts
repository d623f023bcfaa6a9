import { Type } from 'typebox';
import { ATTEMPT_ORDER_FIELDS, ENDPOINT_ORDER_FIELDS } from '../../domain/webhooks.js';
import { Id, Nullable, OrderingParam, PageQuery } from './common.js';

const DateTime = Type.String({ format: 'date-time' });

/** A webhook endpoint as the API shows it; registered as a shared schema, referenced as `WebhookEndpoint`. */
export const Endpoint = Type.Object(
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

export const EndpointRef = Type.Ref('WebhookEndpoint');

const EventType = Type.String({ maxLength: 100 });
const EndpointFields = {
  is_active: Type.Boolean(),
  target: Type.String({ maxLength: 2000 }),
  description: Type.String({ maxLength: 1000 }),
  events: Type.Array(Type.Object({ type: EventType }), { maxItems: 100 }),
  ssl_cert_verification: Type.Boolean(),
};

// Read-only fields a client sends (id, signing_secret, disabled_reason, created_at...) are stripped
// before the handler sees them: a body is exactly these fields.
export const EndpointBody = Type.Object(
  {
    target: EndpointFields.target,
    events: EndpointFields.events,
    is_active: Type.Optional(EndpointFields.is_active),
    description: Type.Optional(EndpointFields.description),
    ssl_cert_verification: Type.Optional(EndpointFields.ssl_cert_verification),
  },
  { additionalProperties: false },
);

export const EndpointPatch = Type.Partial(Type.Object(EndpointFields, { additionalProperties: false }));

export const EndpointListQuery = Type.Object({
  ...PageQuery.properties,
  ordering: OrderingParam(ENDPOINT_ORDER_FIELDS),
  target: Type.Optional(Type.String({ maxLength: 2000 })),
});

export const AttemptListQuery = Type.Object({
  ...PageQuery.properties,
  ordering: OrderingParam(ATTEMPT_ORDER_FIELDS),
});

export const Attempt = Type.Object({
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
});

export const SigningSecret = Type.Object({ signing_secret: Type.String() });

export const ResendBody = Type.Object({ event: Id });
export const ResendBulkBody = Type.Object({ event: Type.Array(Id, { minItems: 1, maxItems: 1000 }) });
