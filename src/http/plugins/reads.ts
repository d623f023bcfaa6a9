import type { FastifyInstance } from 'fastify';
import type { ReadRouter } from '../../db/replicas.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Read-your-writes across replicas: after a member's request that may have written (any method but
 * GET, HEAD and OPTIONS, on a route not declared `replica`, not refused with a 4xx, which changes
 * nothing), the router records the primary's WAL position for that member before the answer leaves,
 * so their next read, in this process or another, waits for a replica that has replayed it. Without
 * replicas the router does nothing.
 */
export function registerWriteTracking(app: FastifyInstance, router: ReadRouter) {
  if (router.targets.length === 0) return;
  app.addHook('onSend', async (request, reply) => {
    const member = request.tokenUserId;
    if (member === null || READ_METHODS.has(request.method) || request.routeOptions.config.replica) return;
    if (reply.statusCode >= 400 && reply.statusCode < 500) return;
    await router.wrote(member);
  });
}
