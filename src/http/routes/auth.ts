import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { AppError } from '../../domain/errors.js';
import { passwordGrant, refreshGrant, type TokenSettings } from '../../services/auth.js';
import { errors } from '../schemas/common.js';

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

const missing = (field: string) =>
  new AppError(400, 'invalid', `${field}: This field is required.`, {
    error: 'invalid_request',
    error_description: `${field} is required`,
  });

export function authRoutes(base: FastifyInstance, db: Database, settings: TokenSettings) {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/oauth/token/',
    {
      schema: {
        tags: ['auth'],
        summary: 'OAuth 2.0 token endpoint: password and refresh_token grants',
        body: TokenBody,
        response: { 200: TokenResult, 400: errors[400] },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      const body = request.body;
      switch (body.grant_type) {
        case 'password':
          if (!body.username) throw missing('username');
          if (body.password === undefined) throw missing('password');
          return passwordGrant(db, settings, body.username, body.password);
        case 'refresh_token':
          if (!body.refresh_token) throw missing('refresh_token');
          return refreshGrant(db, settings, body.refresh_token);
        default:
          throw new AppError(
            400,
            'unsupported_grant_type',
            'Only the password and refresh_token grants are supported.',
            {
              error: 'unsupported_grant_type',
            },
          );
      }
    },
  );
}
