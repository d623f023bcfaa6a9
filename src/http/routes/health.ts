import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';

const Health = Type.Object({ status: Type.String() });

export function healthRoutes(app: FastifyInstance, db: Database) {
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
        await Promise.race([
          sql`SELECT 1`.execute(db),
          new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2000).unref()),
        ]);
        return { status: 'ok' };
      } catch (error) {
        request.log.warn({ err: error }, 'database not ready');
        return reply.code(503).send({ detail: 'The database is not reachable.', code: 'service_unavailable' });
      }
    },
  );
}
