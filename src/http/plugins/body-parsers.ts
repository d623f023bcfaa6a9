import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../domain/errors.js';

/**
 * Bodies as SelfCommunity clients send them: an empty JSON body is no body (the SDK posts actions
 * that way), and form-encoded bodies may hold JSON (the reference curl examples do).
 */
export function registerBodyParsers(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const json = (body: string) =>
    new Promise<unknown>((resolve, reject) =>
      parseJson(undefined as never, body, (err, value) => (err ? reject(parseError()) : resolve(value))),
    );

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    async (_req: FastifyRequest, body: string | Buffer) =>
      (body as string).trim() === '' ? undefined : json(body as string),
  );

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    async (_req: FastifyRequest, body: string | Buffer) => {
      const text = (body as string).trim();
      if (text === '') return undefined;
      if (text.startsWith('{')) return json(text);
      const form: Record<string, string | string[]> = {};
      for (const [key, value] of new URLSearchParams(text)) {
        const seen = form[key];
        form[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      }
      return form;
    },
  );
}

function parseError() {
  return new AppError(400, 'parse_error', 'Malformed request body: it is not valid JSON.');
}
