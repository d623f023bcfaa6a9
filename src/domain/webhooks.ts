/** Rules of webhook endpoints that the HTTP schemas, the service and the repository share. Pure. */

/** The fields the endpoint list may be ordered by. */
export const ENDPOINT_ORDER_FIELDS = ['created_at', 'updated_at', 'is_active'] as const;
export type EndpointOrderField = (typeof ENDPOINT_ORDER_FIELDS)[number];

/** The fields an endpoint's attempt list may be ordered by. */
export const ATTEMPT_ORDER_FIELDS = ['created_at', 'sent_at', 'next_retry'] as const;
export type AttemptOrderField = (typeof ATTEMPT_ORDER_FIELDS)[number];

/** How long an expired signing secret keeps signing beside the new one. */
export const SECRET_GRACE_MS = 24 * 3600 * 1000;
