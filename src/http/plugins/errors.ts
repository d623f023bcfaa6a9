import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { isDatabaseUnavailable } from '../../db/unavailable.js';
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
    const text = v.message ?? 'must be valid';
    const message = missing ? 'This field is required.' : `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
    fields[field] = [...(fields[field] ?? []), message];
  }
  return fields;
}

/** Errors Fastify raises before routing (a URL that is not valid percent-encoding): the same JSON shape. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, _request, res) => {
  const reply = res as unknown as FastifyReply;
  const status = typeof error.statusCode === 'number' && error.statusCode < 500 ? error.statusCode : 400;
  reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ detail: 'Malformed request URL.', code: CODE_BY_STATUS[status] ?? 'invalid' });
};

/** One error handler, one shape: `{"detail": ..., "code": ...}`. 5xx details never leave the server. */
export function registerErrorHandling(app: FastifyInstance) {
  // Schema coercion would read "1e2", "0x10" or " 5" as integers: ids, limit and offset are decimal
  // digits only. Found before validation, answered as validation errors are: after the gate.
  app.addHook('preValidation', async (request) => {
    for (const [where, values] of [
      ['params', request.params],
      ['querystring', request.query],
    ] as const) {
      if (typeof values !== 'object' || values === null) continue;
      for (const field of ['id', 'limit', 'offset']) {
        const raw = (values as Record<string, unknown>)[field];
        if (typeof raw === 'string' && !/^-?\d+$/.test(raw)) {
          request.inputError ??= new AppError(400, 'invalid', `${field}: Must be an integer.`, {
            errors: { [field]: [`Must be an integer (${where}).`] },
          });
        }
      }
    }
  });
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
    } else if (/^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown }).code))) {
      // PostgreSQL "data exception" (e.g. a NUL character in a text field): the input, not the server.
      status = 400;
      request.log.info({ err: error }, 'input rejected by the database');
      body = {
        detail: 'A value in the request cannot be stored (for example, it contains a NUL character).',
        code: 'invalid',
      };
    } else if (isDatabaseUnavailable(error)) {
      // The database is away (stopped, restarting, unreachable, out of connections): try again later.
      status = 503;
      request.log.warn({ err: error }, 'database unavailable');
      body = { detail: 'The service is temporarily unavailable. Try again later.', code: 'service_unavailable' };
    } else {
      status = 500;
      request.log.error({ err: error }, 'unhandled error');
      body = { detail: 'A server error occurred.', code: 'error' };
    }
    if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="api"');
    // A body refused while it is still arriving (too large, malformed): Fastify asks to close the
    // connection, and closing it while the client still sends makes the kernel answer the rest with a
    // reset, which destroys the answer before the client reads it (EPIPE instead of a 413). Kept open,
    // Node reads and discards the rest of the body, within the request timeout like any body.
    if (!request.raw.complete && reply.getHeader('connection') === 'close') reply.removeHeader('connection');
    reply.code(status).type('application/json; charset=utf-8').send(body);
  });
}
