import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { findById } from '../../db/repositories/users.js';
import { forbidden, invalid, notFound } from '../../domain/errors.js';
import { USER_SETTINGS } from '../../domain/user-settings.js';
import { getUserSettings, patchUserSettings } from '../../services/user-settings.js';
import { viewerOf } from '../plugins/auth.js';
import { errors, ID_SEGMENT, IdParams } from '../schemas/common.js';

// What SelfCommunity's client (react-core's providers) reads when it starts, beyond the connections contract.

/**
 * SelfCommunity feature names and whether kith offers them. A feature is on only where kith serves
 * its API: the API itself, and webhooks once their routes are there.
 */
const FEATURES: ReadonlyArray<{ name: string; offered: (app: FastifyInstance) => boolean }> = [
  { name: 'api_v2', offered: () => true },
  { name: 'webhook', offered: (app) => app.hasRoute({ method: 'GET', url: '/api/v2/webhook/endpoint/' }) },
];

const Feature = Type.Object({ name: Type.String(), enabled: Type.Boolean() });
const FeatureList = Type.Object({
  count: Type.Integer(),
  next: Type.Null(),
  previous: Type.Null(),
  results: Type.Array(Feature),
});

const SettingValue = Type.Union([Type.Literal(0), Type.Literal(1)]);
const Settings = Type.Object(Object.fromEntries(USER_SETTINGS.map((s) => [s.name, SettingValue])), {
  description: USER_SETTINGS.map((s) => `${s.name}: ${s.help}`).join(' '),
});

export function communityRoutes(base: FastifyInstance, db: Database) {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/v2/feature/',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['community'],
        summary: 'The SelfCommunity features this server offers',
        response: { 200: FeatureList, ...errors },
      },
    },
    async () => {
      const results = FEATURES.map((f) => ({ name: f.name, enabled: f.offered(base) }));
      return { count: results.length, next: null, previous: null, results };
    },
  );

  // kith has no hiding (blocking) of members yet: nobody is hidden, so the list is empty for everyone.
  app.get(
    '/api/v2/user/hidden_users_id/',
    {
      config: { auth: 'required' },
      schema: {
        tags: ['users'],
        summary: 'Ids of the users I have hidden',
        response: { 200: Type.Array(Type.Integer()), ...errors },
      },
    },
    async (request) => {
      viewerOf(request);
      return [];
    },
  );

  /** A member's settings are theirs (and an admin's) to read and change. */
  const ownerOf = async (viewer: { id: number; role: string | null }, id: number) => {
    if (viewer.id !== id && viewer.role !== 'admin') throw forbidden('You may only see your own settings.');
    const user = await findById(db, id);
    if (!user?.is_active) throw notFound('User not found.');
    return user.id;
  };

  app.get(
    `/api/v2/user/${ID_SEGMENT}/settings/`,
    {
      config: { auth: 'required' },
      schema: {
        tags: ['users'],
        summary: "A member's settings (the member or an admin)",
        params: IdParams,
        response: { 200: Settings, ...errors },
      },
    },
    async (request) => getUserSettings(db, await ownerOf(viewerOf(request), request.params.id)),
  );

  app.patch(
    `/api/v2/user/${ID_SEGMENT}/settings/`,
    {
      config: { auth: 'required' },
      schema: {
        tags: ['users'],
        summary: "Change some of a member's settings (the member or an admin)",
        params: IdParams,
        body: Type.Record(Type.String(), Type.Unknown()),
        response: { 200: Settings, ...errors },
      },
    },
    async (request) => {
      const id = await ownerOf(viewerOf(request), request.params.id);
      if (!request.body || Object.keys(request.body).length === 0) throw invalid('The body names no setting.');
      return patchUserSettings(db, id, request.body);
    },
  );
}
