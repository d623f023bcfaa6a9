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
    /**
     * The route's own statement loads the viewer, so the request costs one round trip instead of
     * two: the hook only verifies the token and sets `tokenUserId`; the route passes what its
     * statement found to `admitViewer`, which answers as the hook would. Only with auth 'required'.
     */
    viewerInRoute?: boolean;
  }
  interface FastifyRequest {
    viewer: Viewer | null;
    /** The verified token's user, on `viewerInRoute` routes (not yet known to exist). */
    tokenUserId: number | null;
    community: Community | null;
  }
}

const friendshipModeRequired = () =>
  new AppError(
    403,
    'friendship_mode_required',
    'This operation requires the community to be set to friendship mode (configurations.follow_enabled is true).',
  );

const notAuthenticated = () => new AppError(401, 'not_authenticated', 'Authentication credentials were not provided.');
const failed = (detail: string) => new AppError(401, 'authentication_failed', detail);

/** The signed-in user of a route declared `required` or `admin`. */
export function viewerOf(request: FastifyRequest): Viewer {
  if (!request.viewer) throw notAuthenticated();
  return request.viewer;
}

/** The verified token's user on a `viewerInRoute` route. */
export function tokenUserOf(request: FastifyRequest): number {
  if (request.tokenUserId === null) throw notAuthenticated();
  return request.tokenUserId;
}

/**
 * On a `viewerInRoute` route: what the route's statement found of the token's user (undefined when
 * missing or inactive) gets the answer the hook gives on other routes.
 */
export function admitViewer<T extends { community: Community }>(
  request: FastifyRequest,
  found: T | undefined,
): asserts found is T {
  if (!found) throw failed('User not found or inactive.');
  request.community = found.community;
  if (request.routeOptions.config.friendship && found.community.followEnabled) throw friendshipModeRequired();
}

export function registerAuth(app: FastifyInstance, db: Database, secret: string) {
  const key = new TextEncoder().encode(secret);
  app.decorateRequest('viewer', null);
  app.decorateRequest('community', null);
  app.decorateRequest('tokenUserId', null);

  app.addHook('onRequest', async (request) => {
    const { auth, friendship, viewerInRoute } = request.routeOptions.config;
    if (auth === undefined) return;

    const header = request.headers.authorization;
    if (header !== undefined && header !== '') {
      // SelfCommunity clients send "Bearer <jwt>"; one SDK code path sends "Token <jwt>".
      const match = /^(Bearer|Token)\s+(\S+)\s*$/i.exec(header);
      if (!match?.[2]) throw failed('Invalid Authorization header: expected "Bearer <token>".');
      const verified = await verifyAccessToken(key, match[2]);
      if (!verified.ok) throw failed(verified.reason);
      if (viewerInRoute && auth === 'required') {
        request.tokenUserId = verified.userId;
        return;
      }
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
    if (friendship && request.community?.followEnabled) throw friendshipModeRequired();
  });
}
