import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, type ErrorCode } from '../../domain/errors.js';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid',
  401: 'not_authenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Turns Fastify's validation errors into DRF-style per-field messages. */
function fieldErrors(error: FastifyError): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const v of error.validation ?? []) {
    const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const missing = (v.params as { missingProperty?: string }).missingProperty;
    const field = missing ?? (path || (error.validationContext ?? 'body'));
    const message = missing ? 'This field is required.' : `Must ${v.message ?? 'be valid'}.`;
    fields[field] = [...(fields[field] ?? []), message];
  }
  return fields;
}

/** One error handler, one shape: `{"detail": ..., "code": ...}`. 5xx details never leave the server. */
export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    let status: number;
    let body: Record<string, unknown>;
    if (error instanceof AppError) {
      status = error.status;
      body = { detail: error.detail, code: error.code, ...error.extra };
    } else if (error.validation) {
      status = 400;
      const errors = fieldErrors(error);
      const [field, messages] = Object.entries(errors)[0] ?? ['input', ['Invalid.']];
      body = { detail: `${field}: ${messages[0]}`, code: 'invalid', errors };
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      const code =
        error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
          ? 'parse_error'
          : (CODE_BY_STATUS[status] ?? 'error');
      body = { detail: code === 'parse_error' ? 'Malformed request body.' : error.message, code };
    } else {
      status = 500;
      request.log.error({ err: error }, 'unhandled error');
      body = { detail: 'A server error occurred.', code: 'error' };
    }
    if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="api"');
    reply.code(status).type('application/json; charset=utf-8').send(body);
  });
}
