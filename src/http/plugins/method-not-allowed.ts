import type { FastifyInstance } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { AppError } from '../../domain/errors.js';

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Unknown paths are 404; a known path with another method is 405 with an Allow header. */
export function registerNotFound(app: FastifyInstance) {
  const shadow = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  app.addHook('onRoute', (route) => {
    // The CORS preflight route answers OPTIONS on every path; it must not turn unknown paths into 405s.
    if (route.url === '*') return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      try {
        shadow.on(method.toUpperCase() as HTTPMethod, route.url, () => undefined);
      } catch {
        // The same path registered twice (with and without trailing slash): one entry is enough.
      }
    }
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = METHODS.filter((m) => shadow.find(m, path) !== null);
    if (allowed.length > 0) {
      reply.header('Allow', allowed.join(', '));
      throw new AppError(405, 'method_not_allowed', `Method "${request.method}" not allowed.`);
    }
    throw new AppError(404, 'not_found', 'Not found.');
  });
}
