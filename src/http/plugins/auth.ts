import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../../db/database.js';
import { type Community, findActiveViewer, loadCommunity, type Viewer } from '../../db/repositories/users.js';
import { AppError } from '../../domain/errors.js';
import { verifyAccessToken } from '../../services/tokens.js';

/**
 * How a route authenticates, declared on the route:
 * - required: a valid token; admin: a valid token of an admin;
 * - optional: a token is used when sent; public: as optional, but required when the community's
 *   `content_availability` is false.
 */
export type AuthMode = 'required' | 'admin' | 'optional' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** The route's page says it "requires the community to be set to friendship mode". */
    friendship?: boolean;
  }
  interface FastifyRequest {
    viewer: Viewer | null;
    community: Community | null;
  }
}

const notAuthenticated = () => new AppError(401, 'not_authenticated', 'Authentication credentials were not provided.');
const failed = (detail: string) => new AppError(401, 'authentication_failed', detail);

/** The signed-in user of a route declared `required` or `admin`. */
export function viewerOf(request: FastifyRequest): Viewer {
  if (!request.viewer) throw notAuthenticated();
  return request.viewer;
}

export function registerAuth(app: FastifyInstance, db: Database, secret: string) {
  const key = new TextEncoder().encode(secret);
  app.decorateRequest('viewer', null);
  app.decorateRequest('community', null);

  app.addHook('onRequest', async (request) => {
    const { auth, friendship } = request.routeOptions.config;
    if (auth === undefined) return;

    const header = request.headers.authorization;
    if (header !== undefined && header !== '') {
      // SelfCommunity clients send "Bearer <jwt>"; one SDK code path sends "Token <jwt>".
      const match = /^(Bearer|Token)\s+(\S+)\s*$/i.exec(header);
      if (!match?.[2]) throw failed('Invalid Authorization header: expected "Bearer <token>".');
      const verified = await verifyAccessToken(key, match[2]);
      if (!verified.ok) throw failed(verified.reason);
      const viewer = await findActiveViewer(db, verified.userId);
      if (!viewer) throw failed('User not found or inactive.');
      request.viewer = viewer;
      request.community = viewer.community;
    } else if (auth === 'required' || auth === 'admin') {
      throw notAuthenticated();
    }

    if (auth === 'admin' && request.viewer?.role !== 'admin') {
      throw new AppError(403, 'permission_denied', 'This operation requires the admin role.');
    }
    if (!request.community && (auth === 'public' || friendship)) request.community = await loadCommunity(db);
    if (auth === 'public' && !request.viewer && request.community?.contentAvailability === false) {
      throw notAuthenticated();
    }
    if (friendship && request.community?.followEnabled) {
      throw new AppError(
        403,
        'friendship_mode_required',
        'This operation requires the community to be set to friendship mode (configurations.follow_enabled is true).',
      );
    }
  });
}
