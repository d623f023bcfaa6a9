import type { Static } from 'typebox';
import type { AttemptRow, EndpointWithEvents } from '../../db/repositories/webhooks.js';
import type { Attempt, Endpoint } from '../schemas/webhooks.js';

/** An endpoint as the API shows it: the signing secrets and the failure streak stay inside. */
export function presentEndpoint(e: EndpointWithEvents): Static<typeof Endpoint> {
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

/** One delivery attempt, with the event it carried. */
export function presentAttempt(a: AttemptRow): Static<typeof Attempt> {
  return {
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
  };
}
