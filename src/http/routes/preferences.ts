import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import { PREFERENCE_ORDER_FIELDS } from '../../domain/preferences.js';
import { getPreference, listPreferences, patchPreferences } from '../../services/preferences.js';
import { MAX_LIMIT, pageWindow, paginated } from '../pagination.js';
import { errors, ID_SEGMENT, Id, OrderingParam, Page, PageQuery, withExample } from '../schemas/common.js';
import { examplePage } from '../schemas/examples.js';

const tags = ['preferences'];
const Value = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const Preference = Type.Object(
  { id: Type.Integer(), section: Type.String(), name: Type.String(), value: Value },
  { $id: 'DynamicPreference' },
);
const PreferenceQuery = Type.Object({
  ...PageQuery.properties,
  section: Type.Optional(Type.String({ maxLength: 100 })),
  search: Type.Optional(Type.String({ maxLength: 100 })),
  keys: Type.Optional(Type.String({ maxLength: 10_000 })),
  ordering: OrderingParam(PREFERENCE_ORDER_FIELDS),
});

/**
 * The provider reads only the first page of the list (no `limit`) and builds its whole preference map from it,
 * so the default page holds the whole catalogue; an explicit `limit` still pages.
 */
const PREFERENCE_PAGE = MAX_LIMIT;

const FOLLOW_ENABLED = { id: 1, section: 'configurations', name: 'follow_enabled', value: false };
const CONNECTION_ENABLED = { id: 2, section: 'configurations', name: 'connection_enabled', value: true };

/** The community's dynamic preferences; registered under `/api/v2`. */
export const preferenceRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.addSchema(Preference);

  // The SDK's searchPreferences calls the list with its filters; the /search/ path takes the same ones.
  for (const [url, summary, operationId] of [
    ['/dynamic_preference/', 'All dynamic preferences', 'getAllPreferences'],
    ['/dynamic_preference/search/', 'Search dynamic preferences (keys=section.name,...)', 'searchPreferences'],
  ] as const) {
    app.get(
      url,
      {
        config: { auth: 'optional' },
        schema: {
          tags,
          summary,
          operationId,
          querystring: PreferenceQuery,
          response: {
            200: withExample(
              Page(Type.Ref('DynamicPreference')),
              examplePage([FOLLOW_ENABLED, CONNECTION_ENABLED], 'dynamic_preference/'),
            ),
            ...errors,
          },
        },
      },
      async (request) => {
        const window = pageWindow({ ...request.query, limit: request.query.limit ?? PREFERENCE_PAGE });
        const page = await listPreferences(db, { ...request.query, ...window });
        return paginated(request, window, page.total, page.items);
      },
    );
  }

  app.get(
    `/dynamic_preference/${ID_SEGMENT}/`,
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        summary: 'A dynamic preference',
        operationId: 'getSpecificPreference',
        params: Type.Object({ id: Id }),
        response: { 200: withExample(Type.Ref('DynamicPreference'), FOLLOW_ENABLED), ...errors },
      },
    },
    async (request) => getPreference(db, request.params.id),
  );

  app.patch(
    '/dynamic_preference/',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary: 'Update dynamic preferences (admin), keyed by name: {"follow_enabled": true}',
        operationId: 'updatePreferences',
        body: withExample(Type.Record(Type.String(), Type.Unknown()), { follow_enabled: true }),
        response: {
          200: withExample(
            Type.Record(
              Type.String(),
              Type.Object({
                id: Type.Integer(),
                section: Type.String(),
                name: Type.String(),
                value: Value,
                type: Type.String(),
              }),
            ),
            { follow_enabled: { ...FOLLOW_ENABLED, value: true, type: 'boolean' } },
          ),
          ...errors,
        },
      },
    },
    async (request) => patchPreferences(db, request.body),
  );
};
