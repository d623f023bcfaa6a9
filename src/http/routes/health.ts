import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { checkDatabase } from '../../services/health.js';

const Health = Type.Object({ status: Type.String() });

/** Liveness and readiness; registered at the root. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database answers (503 when it does not)',
        response: { 200: Health, 503: Type.Object({ detail: Type.String(), code: Type.String() }) },
      },
    },
    async (request, reply) => {
      try {
        await checkDatabase(db);
        return { status: 'ok' };
      } catch (error) {
        request.log.warn({ err: error }, 'database not ready');
        return reply.code(503).send({ detail: 'The database is not reachable.', code: 'service_unavailable' });
      }
    },
  );
};
