import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { grant, type TokenSettings } from '../../services/auth.js';
import { addressOf, type RouteLimit } from '../plugins/rate-limits.js';
import { errors, throttledResponse, withExample } from '../schemas/common.js';

const TokenBody = Type.Object({
  grant_type: Type.String({ maxLength: 100 }),
  username: Type.Optional(Type.String({ maxLength: 255 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  refresh_token: Type.Optional(Type.String({ maxLength: 1024 })),
  client_id: Type.Optional(Type.String({ maxLength: 255 })),
  client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
  scope: Type.Optional(Type.String({ maxLength: 255 })),
});

const TokenResult = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
  scope: Type.String(),
});

/** The username of a password grant, as the lookup compares it (lower case); undefined for other grants. */
function guessedUsername(request: FastifyRequest): string | undefined {
  const body = request.body as Static<typeof TokenBody>;
  return body.grant_type === 'password' && body.username ? body.username.toLowerCase() : undefined;
}

/**
 * Password guessing: password grants are counted per address first (so one address spending its
 * budget stops counting against the usernames it tries), then per username. Every attempt counts,
 * before the password is checked: counting only failures would let a parallel burst through.
 */
const TOKEN_LIMITS: RouteLimit[] = [
  { limit: 'tokenPerIp', key: (request) => (guessedUsername(request) === undefined ? undefined : addressOf(request)) },
  { limit: 'tokenPerUsername', key: guessedUsername },
];

export interface AuthRouteOptions {
  db: Database;
  settings: TokenSettings;
}

/** The OAuth 2.0 token endpoint; registered under `/oauth`. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRouteOptions> = async (app, { db, settings }) => {
  app.post(
    '/token/',
    {
      config: { limits: TOKEN_LIMITS },
      schema: {
        tags: ['auth'],
        summary: 'OAuth 2.0 token endpoint: password and refresh_token grants',
        operationId: 'oauthToken',
        body: withExample(TokenBody, { grant_type: 'password', username: 'ada', password: 'Correct-horse-7' }),
        response: {
          200: withExample(TokenResult, {
            access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJl',
            token_type: 'Bearer',
            expires_in: 3600,
            refresh_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIiwidHlwIjoicmVmcmVzaCJ9.c2lnbmF0dXJl',
            scope: 'read write',
          }),
          400: errors[400],
          429: throttledResponse,
        },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return grant(db, settings, request.body);
    },
  );
};
