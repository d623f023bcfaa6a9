import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { presentUser } from '../../contracts/user.js';
import type { Database } from '../../db/database.js';
import { autocompleteMembers, matchUsernames, searchMembers, suggestMembers } from '../../services/people.js';
import { DEFAULT_LIMIT, MAX_LIMIT, pageWindow, paginated } from '../pagination.js';
import { modeOfRequest, viewerOf } from '../plugins/auth.js';
import { errors, Page, withExample } from '../schemas/common.js';
import { examplePage, exampleUser } from '../schemas/examples.js';
import { AutocompleteQuery, MatchBody, SearchQuery, SuggestionQuery } from '../schemas/people.js';
import { UserRef } from '../schemas/users.js';

const tags = ['people'];

/** Finding members (search, autocomplete, match) and suggesting them; registered under `/api/v2`. */
export const peopleRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/user/search/',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary:
          'Search members by username and real name: case- and accent-insensitive, prefix and substring (at most 1,000 matches)',
        operationId: 'userSearch',
        querystring: SearchQuery,
        response: { 200: withExample(Page(UserRef), examplePage([exampleUser], 'user/search/')), ...errors },
      },
    },
    async (request) => {
      const window = pageWindow(request.query);
      const mode = modeOfRequest(request);
      const page = await searchMembers(db, request.viewer?.id ?? null, { ...request.query, ...window }, mode);
      return paginated(
        request,
        window,
        page.total,
        page.items.map((u) => presentUser(u, u.connection_status, mode)),
      );
    },
  );

  app.get(
    '/user/autocomplete/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: "A picker's best matches: one list (next is always null), without me and the excluded ids",
        operationId: 'userAutocomplete',
        querystring: AutocompleteQuery,
        response: { 200: withExample(Page(UserRef), examplePage([exampleUser], 'user/autocomplete/')), ...errors },
      },
    },
    async (request) => {
      const mode = modeOfRequest(request);
      const { search, user, exclude, limit } = request.query;
      const users = await autocompleteMembers(
        db,
        viewerOf(request).id,
        {
          search,
          user,
          exclude: exclude ? exclude.split(',').map(Number) : [],
          limit: Math.min(limit ?? DEFAULT_LIMIT, MAX_LIMIT),
        },
        mode,
      );
      // One list, no next page: SelfCommunity's picker follows `next` until there is none.
      const results = users.map((u) => presentUser(u, u.connection_status, mode));
      return { count: results.length, next: null, previous: null, results };
    },
  );

  app.post(
    '/user/match/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'The members with these usernames (case-insensitive; at most 100 names)',
        operationId: 'userMatchUsernames',
        body: withExample(MatchBody, ['ada', 'grace']),
        response: { 200: withExample(Type.Array(UserRef), [exampleUser]), ...errors },
      },
    },
    async (request) => {
      const mode = modeOfRequest(request);
      const users = await matchUsernames(db, viewerOf(request).id, request.body, mode);
      return users.map((u) => presentUser(u, u.connection_status, mode));
    },
  );

  app.get(
    '/suggestion/user/',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        summary: 'Members I may know: most mutual connections (followings in follow mode) first, then the newest',
        operationId: 'getUserSuggestion',
        querystring: SuggestionQuery,
        response: {
          200: withExample(
            Page(UserRef),
            examplePage([{ ...exampleUser, connection_status: null }], 'suggestion/user/'),
          ),
          ...errors,
        },
      },
    },
    async (request) => {
      const window = pageWindow(request.query);
      const mode = modeOfRequest(request);
      const page = await suggestMembers(db, viewerOf(request).id, window, mode);
      // Suggestions are members I have no relation with: no status to show.
      return paginated(
        request,
        window,
        page.total,
        page.items.map((u) => presentUser(u, null, mode)),
      );
    },
  );
};
