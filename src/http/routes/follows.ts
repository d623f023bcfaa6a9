import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/database.js';
import type { FollowList } from '../../db/pages/follow-pages.js';
import { followList, followListVersions } from '../../services/follow-reads.js';
import { followedBy, follows, toggleFollow } from '../../services/follows.js';
import { isConditional, pageDependencies, pageTagParts, sentNotModified, tagAnswer } from '../etag.js';
import { cursorAfterGate, pageWindow, sendPage } from '../pagination.js';
import { admitFoundAndLimit, tokenUserOf, viewerOf } from '../plugins/auth.js';
import { bySender } from '../plugins/rate-limits.js';
import { errors, ID_SEGMENT, IdParams, Page, throttledResponse, withExample } from '../schemas/common.js';
import { examplePage, exampleUser } from '../schemas/examples.js';
import { FollowsQuery, IsFollowed, IsFollower } from '../schemas/follows.js';
import { UserRef } from '../schemas/users.js';

const tags = ['follows'];

/** Follow mode's endpoints (`user/follow_user.md` and the follow lists and checks), under /api/v2. */
export const followRoutes: FastifyPluginAsync<{ db: Database }> = async (base, { db }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    `/user/${ID_SEGMENT}/follow/`,
    {
      // Both ways count: an unfollow and a follow again notify the member again.
      // The move's first statement loads the member with the pair it locks (services/connections.ts).
      config: {
        auth: 'required',
        follow: true,
        memberInStatement: true,
        limits: [{ limit: 'follows', key: bySender }],
      },
      schema: {
        tags,
        summary: 'Follow the user, or unfollow them when I already do (a toggle)',
        operationId: 'followUser',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Followed or unfollowed' }), ...errors, 429: throttledResponse },
      },
    },
    async (request, reply) => {
      await toggleFollow(db, tokenUserOf(request), request.params.id, (found) => admitFoundAndLimit(request, found));
      return reply.code(204).send(null);
    },
  );

  const lists: Array<{ list: FollowList; summary: string; operationId: string }> = [
    { list: 'followers', summary: "A user's followers, newest follow first", operationId: 'getUserFollowers' },
    { list: 'followings', summary: 'The users a user follows, newest follow first', operationId: 'getUserFollowings' },
  ];
  const followed = {
    ...exampleUser,
    connection_status: 'followed' as const,
    followers_counter: 1,
    followings_counter: 0,
  };
  for (const { list, summary, operationId } of lists) {
    app.get(
      `/user/${ID_SEGMENT}/${list}/`,
      {
        config: { auth: 'public', follow: true, replica: true, etag: true },
        schema: {
          tags,
          summary,
          operationId,
          params: IdParams,
          querystring: FollowsQuery,
          response: { 200: withExample(Page(UserRef), examplePage([followed], `user/3/${list}/`)), ...errors },
        },
      },
      async (request, reply) => {
        const window = pageWindow(request.query);
        const mutual = request.query.mutual === undefined ? undefined : request.query.mutual === 1;
        // Cursors only on unfiltered pages: those are the ones a page seeks on.
        const scope = mutual === undefined ? `${list}:${request.params.id}` : undefined;
        const after = scope ? await cursorAfterGate(request, request.query.cursor, { list: scope, window }) : undefined;
        const viewerId = request.viewer?.id ?? null;
        const viewerVersion = request.viewer?.graph_version ?? null;
        const query = { mutual, ...window, after };
        if (isConditional(request)) {
          const versions = await request.reads.run((db) =>
            followListVersions(db, list, viewerId, request.params.id, query),
          );
          const deps = pageDependencies(request.viewer, request.params.id, versions);
          if (sentNotModified(request, reply, pageTagParts(viewerVersion, versions), deps)) return reply;
        }
        const page = await request.reads.run((db) => followList(db, list, viewerId, request.params.id, query));
        const deps = pageDependencies(request.viewer, request.params.id, page.versions);
        tagAnswer(request, reply, pageTagParts(viewerVersion, page.versions), deps);
        return sendPage(reply, request, window, page, scope);
      },
    );
  }

  app.get(
    `/user/${ID_SEGMENT}/is_followed/`,
    {
      config: { auth: 'required', follow: true, replica: true },
      schema: {
        tags,
        summary: 'Whether I follow the user',
        operationId: 'checkUserFollowed',
        params: IdParams,
        response: { 200: withExample(IsFollowed, { is_followed: true }), ...errors },
      },
    },
    async (request) => ({
      is_followed: await request.reads.run((db) => follows(db, viewerOf(request).id, request.params.id)),
    }),
  );

  app.get(
    `/user/${ID_SEGMENT}/is_follower/`,
    {
      config: { auth: 'required', follow: true, replica: true },
      schema: {
        tags,
        summary: 'Whether the user follows me',
        operationId: 'checkUserFollower',
        params: IdParams,
        response: { 200: withExample(IsFollower, { is_follower: false }), ...errors },
      },
    },
    async (request) => ({
      is_follower: await request.reads.run((db) => followedBy(db, viewerOf(request).id, request.params.id)),
    }),
  );
};
