import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type GraphMode, modeOf } from '../../contracts/user.js';
import type { ReadRouter, Reads } from '../../db/replicas.js';
import { type Community, findActiveViewer, loadCommunity, type Viewer } from '../../db/repositories/users.js';
import { AppError, invalidFields } from '../../domain/errors.js';
import { type TokenVerifier, tokenCurrent } from '../../services/tokens.js';
import { answeredFromCache } from '../tag-cache.js';

/**
 * The gate: who may call a route is declared on the route and decided here, by one function
 * (`decide`), in one order for every route — 401 (no or bad token) → 401 (member missing or
 * inactive) → 403 (role, community mode) → 401 (closed community, anonymous) → 400 (input) → the
 * service's own answers (404, 400 for a move that makes no sense, owner-or-admin 403). The rate
 * limits (plugins/rate-limits.ts) answer 429 before all of it (the client address's ceiling) and
 * between the input and the service (a route's own limits).
 *
 * - auth: required / admin: a valid token of an active member (admin: with the admin role);
 *   optional: a token is used when sent; public: as optional, but required when the community's
 *   `content_availability` is false.
 * - friendship / follow: the route's page says it requires the community to be set to that mode.
 * - memberInStatement: the route's own statement loads the member with its page, or with the pair a
 *   write locks (one round trip instead of two); the route hands what it found to `admitFound`, which
 *   decides as the gate does for every other route (a write: to `admitFoundAndLimit`, which then
 *   counts the route's own limits, deferred until then). Only with auth 'required'.
 * - replica: the route only reads, and its reads (the gate's included) may go to a streaming replica
 *   that has replayed the member's last write (`request.reads`, chosen here once the token is known).
 */
export type AuthMode = 'required' | 'admin' | 'optional' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    friendship?: boolean;
    /** The route's page says it "requires the community to be set to follow mode". */
    follow?: boolean;
    memberInStatement?: boolean;
    replica?: boolean;
  }
  interface FastifyInstance {
    /** Takes a request through the gate now (see `refuseInput`). */
    admitRequest(request: FastifyRequest): Promise<void>;
  }
  interface FastifyRequest {
    viewer: Viewer | null;
    /** The verified token's member (not yet known to exist or be active). */
    tokenUserId: number | null;
    /** The verified token's `iat` (Unix seconds): refused when before its member's `tokens_not_before`. */
    tokenIssuedAt: number;
    community: Community | null;
    /** Bad input found before validation (see errors.ts); answered after the gate, as validation errors are. */
    inputError: AppError | null;
    /** Where this request's reads go: the primary, or on a `replica` route a replica (see db/replicas.ts). */
    reads: Reads;
    /**
     * On a `memberInStatement` route, the route's own limits (plugins/rate-limits.ts), which wait for
     * the gate's decision (`admitFoundAndLimit`); null when it declares none or limits are off.
     */
    routeLimits: (() => Promise<void>) | null;
  }
}

const friendshipModeRequired = () =>
  new AppError(
    403,
    'friendship_mode_required',
    'This operation requires the community to be set to friendship mode (configurations.follow_enabled is true).',
  );

const followModeRequired = () =>
  new AppError(
    403,
    'follow_mode_required',
    'This operation requires the community to be set to follow mode (configurations.follow_enabled is false).',
  );

const notAuthenticated = () => new AppError(401, 'not_authenticated', 'Authentication credentials were not provided.');
const failed = (detail: string) => new AppError(401, 'authentication_failed', detail);

/** What the gate decides on: the token's member as found (null: none sent), and the community's settings. */
interface Found {
  member: { role: Viewer['role'] } | null | 'missing';
  community: Community | null;
}

/** The one decision: throws the route's 401 or 403, in the gate's order. */
function decide(request: FastifyRequest, found: Found) {
  const { auth, friendship, follow } = request.routeOptions.config;
  if (found.member === 'missing') throw failed('User not found or inactive.');
  if (auth === 'admin' && found.member?.role !== 'admin') {
    throw new AppError(403, 'permission_denied', 'This operation requires the admin role.');
  }
  if (friendship && found.community?.followEnabled) throw friendshipModeRequired();
  if (follow && found.community?.followEnabled === false) throw followModeRequired();
  if (auth === 'public' && !found.member && found.community?.contentAvailability === false) throw notAuthenticated();
}

/** The signed-in member of a route declared `required` or `admin`. */
export function viewerOf(request: FastifyRequest): Viewer {
  if (!request.viewer) throw notAuthenticated();
  return request.viewer;
}

/** The community's mode, as the gate read it for this request. */
export function modeOfRequest(request: FastifyRequest): GraphMode {
  if (!request.community) throw new Error('the gate did not read the community for this route');
  return modeOf(request.community);
}

/** The verified token's member on a `memberInStatement` route, for its statement to load. */
export function tokenUserOf(request: FastifyRequest): number {
  if (request.tokenUserId === null) throw notAuthenticated();
  return request.tokenUserId;
}

/**
 * On a `memberInStatement` route: decides on what the route's statement found of the token's
 * member (undefined when missing or inactive), as the gate decides on other routes.
 */
export function admitFound<T extends { community: Community; tokens_not_before: number }>(
  request: FastifyRequest,
  found: T | undefined,
): asserts found is T {
  const current = found !== undefined && tokenCurrent(found, request.tokenIssuedAt);
  decide(request, { member: current ? { role: null } : 'missing', community: found?.community ?? null });
  request.community = found?.community ?? null;
}

/**
 * On a `memberInStatement` route that writes: `admitFound`, then the route's own limits, counted only
 * for a request the gate admitted (429 after the gate's 401/403 and the input's 400, as elsewhere),
 * and only once: a move run again after a deadlock (services/connections.ts) is the same request.
 */
export async function admitFoundAndLimit(
  request: FastifyRequest,
  found: { community: Community; tokens_not_before: number } | undefined,
): Promise<void> {
  admitFound(request, found);
  const limits = request.routeLimits;
  request.routeLimits = null;
  await limits?.();
}

export function registerAuth(app: FastifyInstance, router: ReadRouter, tokens: TokenVerifier) {
  app.decorateRequest('reads', null as unknown as Reads);
  app.decorateRequest('viewer', null);
  app.decorateRequest('community', null);
  app.decorateRequest('tokenUserId', null);
  app.decorateRequest('tokenIssuedAt', 0);
  app.decorateRequest('inputError', null);
  app.decorateRequest('routeLimits', null);

  app.addHook('onRoute', (route) => {
    const config = route.config as { auth?: AuthMode; memberInStatement?: boolean } | undefined;
    if (config?.memberInStatement && config.auth !== 'required') {
      throw new Error(`${route.url}: memberInStatement needs auth 'required'`);
    }
    // Validation errors wait for the gate, so every route answers 401/403 before 400.
    route.attachValidation = true;
  });

  /** Loads the token's member (and the settings when the route needs them) and decides. */
  const admit = async (request: FastifyRequest) => {
    let member: Found['member'] = null;
    if (request.tokenUserId !== null) {
      const id = request.tokenUserId;
      const found = await request.reads.run((db) => findActiveViewer(db, id));
      const viewer = found && tokenCurrent(found, request.tokenIssuedAt) ? found : undefined;
      member = viewer ?? 'missing';
      request.viewer = viewer ?? null;
      request.community = viewer?.community ?? null;
    }
    // Every answer may depend on the community's mode (the status vocabulary, the follow counters).
    if (!request.community && member !== 'missing') request.community = await request.reads.run(loadCommunity);
    decide(request, { member, community: request.community });
  };
  app.decorate('admitRequest', admit);

  app.decorateRequest('tagSince', 0);
  app.addHook('onRequest', async (request, reply) => {
    const { auth, memberInStatement, replica } = request.routeOptions.config;
    request.reads = router.primary;
    // Before anything is read: a tag is remembered only if none of its members changed since.
    request.tagSince = app.tagCache?.now ?? 0;
    if (auth === undefined) return;
    const header = request.headers.authorization;
    if (header !== undefined && header !== '') {
      // SelfCommunity clients send "Bearer <jwt>"; one SDK code path sends "Token <jwt>".
      const match = /^(Bearer|Token)\s+(\S+)\s*$/i.exec(header);
      if (!match?.[2]) throw failed('Invalid Authorization header: expected "Bearer <token>".');
      const verified = await tokens.verify(match[2]);
      if (!verified.ok) throw failed(verified.reason);
      request.tokenUserId = verified.userId;
      request.tokenIssuedAt = verified.issuedAt;
    } else if (auth === 'required' || auth === 'admin') {
      throw notAuthenticated();
    }
    if (replica) request.reads = router.forMember(request.tokenUserId);
    // A re-read whose tag this process remembers, still current: 304 before anything is read.
    if (await answeredFromCache(request, reply)) return reply;
    if (!memberInStatement) await admit(request);
  });

  app.addHook('preHandler', async (request) => {
    const inputError: Error | null = request.inputError ?? request.validationError ?? nonFiniteInput(request);
    if (!inputError) return;
    // A route whose statement loads the member has not been through the gate yet: go through it
    // first, so that bad input there is answered in the same order as everywhere else.
    if (request.routeOptions.config.memberInStatement) await admit(request);
    throw inputError;
  });
}

/**
 * For a `memberInStatement` route that finds bad input itself (a malformed cursor): the gate's
 * answer first, as for any other bad input, then `error`.
 */
export async function refuseInput(request: FastifyRequest, error: AppError): Promise<never> {
  await request.server.admitRequest(request);
  throw error;
}

/**
 * A number in the validated input that is not finite, as a 400 naming its field; null when there is
 * none. Ajv coerces a string such as "1e309" to Infinity and then skips its range keywords for a
 * number that is not finite, so `{"users": ["1e309"]}` would pass an id's schema (JSON's own 1e309
 * fails the type check). Only the validated parts are read, a few levels deep.
 */
function nonFiniteInput(request: FastifyRequest): AppError | null {
  for (const part of [request.params, request.query, request.body]) {
    if (part === null || typeof part !== 'object') continue;
    for (const [field, value] of Object.entries(part)) {
      if (!isFiniteThroughout(value, 4)) return invalidFields({ [field]: ['A valid integer is required.'] });
    }
  }
  return null;
}

function isFiniteThroughout(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth === 0 || value === null || typeof value !== 'object') return true;
  return Object.values(value).every((inner) => isFiniteThroughout(inner, depth - 1));
}
