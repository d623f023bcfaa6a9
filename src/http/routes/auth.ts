import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { grant, type TokenSettings } from '../../services/auth.js';
import { errors, withExample } from '../schemas/common.js';

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

export interface AuthRouteOptions {
  db: Database;
  settings: TokenSettings;
}

/** The OAuth 2.0 token endpoint; registered under `/oauth`. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRouteOptions> = async (app, { db, settings }) => {
  app.post(
    '/token/',
    {
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
        },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return grant(db, settings, request.body);
    },
  );
};
