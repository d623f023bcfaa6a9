import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { checkDatabase } from '../../services/health.js';
import { withExample } from '../schemas/common.js';

const Health = Type.Object({ status: Type.String() });
const UNAVAILABLE = { detail: 'The database is not reachable.', code: 'service_unavailable' };
const Alive = Type.Object({ status: Type.String(), version: Type.String({ description: "kith's version" }) });

/** Liveness and readiness; registered at the root. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Database; version: string }> = async (
  app,
  { db, version },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The process is alive, and its version',
        operationId: 'checkLiveness',
        response: { 200: withExample(Alive, { status: 'ok', version: '0.1.0' }) },
      },
    },
    async () => ({ status: 'ok', version }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database answers (503 when it does not)',
        operationId: 'checkReadiness',
        response: {
          200: withExample(Health, { status: 'ok' }),
          503: withExample(Type.Object({ detail: Type.String(), code: Type.String() }), UNAVAILABLE),
        },
      },
    },
    async (request, reply) => {
      try {
        await checkDatabase(db);
        return { status: 'ok' };
      } catch (error) {
        request.log.warn({ err: error }, 'database not ready');
        return reply.code(503).send(UNAVAILABLE);
      }
    },
  );
};
