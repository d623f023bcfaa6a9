/** The machine codes kith answers with; stable, snake_case, in the DRF dialect SelfCommunity speaks. */
export type ErrorCode =
  | 'invalid'
  | 'parse_error'
  | 'not_authenticated'
  | 'authentication_failed'
  | 'permission_denied'
  | 'friendship_mode_required'
  | 'follow_mode_required'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'invalid_connection_action'
  | 'self_connection'
  | 'self_deletion'
  | 'last_active_admin'
  | 'self_block'
  | 'member_blocked'
  | 'member_deactivated'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'service_unavailable'
  | 'throttled'
  | 'too_many_pending_requests'
  | 'error';

/** The one error type of kith: a status, a code and a sentence for humans. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail);
  }
}

export const notFound = (what = 'Not found.') => new AppError(404, 'not_found', what);
export const forbidden = (detail = 'You do not have permission to perform this action.') =>
  new AppError(403, 'permission_denied', detail);
export const invalid = (detail: string, fields?: Record<string, string[]>) =>
  new AppError(400, 'invalid', detail, fields ? { errors: fields } : undefined);

/** A 400 naming the fields, whose detail is the first field's first message: `{"detail": "email: …", "errors": {…}}`. */
export function invalidFields(fields: Record<string, string[]>) {
  const first = Object.entries(fields)[0];
  return invalid(first ? `${first[0]}: ${first[1][0]}` : 'Invalid input.', fields);
}
