import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { USER_SETTINGS } from '../../domain/user-settings.js';
import { getUserSettings, patchUserSettings } from '../../services/user-settings.js';
import { viewerOf } from '../plugins/auth.js';
import { errors, ID_SEGMENT, IdParams, withExample } from '../schemas/common.js';

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
const DEFAULT_SETTINGS = Object.fromEntries(USER_SETTINGS.map((s) => [s.name, s.default]));
const Settings = Type.Object(Object.fromEntries(USER_SETTINGS.map((s) => [s.name, SettingValue])), {
  description: USER_SETTINGS.map((s) => `${s.name}: ${s.help}`).join(' '),
});

/** Features and a member's settings; registered under `/api/v2`. */
export const communityRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/feature/',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['community'],
        summary: 'The SelfCommunity features this server offers',
        operationId: 'getAllFeatures',
        response: {
          200: withExample(FeatureList, {
            count: FEATURES.length,
            next: null,
            previous: null,
            results: FEATURES.map((f) => ({ name: f.name, enabled: true })),
          }),
          ...errors,
        },
      },
    },
    async () => {
      const results = FEATURES.map((f) => ({ name: f.name, enabled: f.offered(app) }));
      return { count: results.length, next: null, previous: null, results };
    },
  );

  app.get(
    `/user/${ID_SEGMENT}/settings/`,
    {
      config: { auth: 'required' },
      schema: {
        tags: ['users'],
        summary: "A member's settings (the member or an admin)",
        operationId: 'userSettings',
        params: IdParams,
        response: { 200: withExample(Settings, DEFAULT_SETTINGS), ...errors },
      },
    },
    async (request) => getUserSettings(db, viewerOf(request), request.params.id),
  );

  app.patch(
    `/user/${ID_SEGMENT}/settings/`,
    {
      config: { auth: 'required' },
      schema: {
        tags: ['users'],
        summary: "Change some of a member's settings (the member or an admin)",
        operationId: 'userSettingsPatch',
        params: IdParams,
        body: withExample(Type.Record(Type.String(), Type.Unknown()), { toast_notifications_emit_sound: 0 }),
        response: { 200: withExample(Settings, { ...DEFAULT_SETTINGS, toast_notifications_emit_sound: 0 }), ...errors },
      },
    },
    async (request) => patchUserSettings(db, viewerOf(request), request.params.id, request.body),
  );
};
