import { Type } from 'typebox';
import { CursorParam } from '../pagination.js';
import { PageQuery } from './common.js';

export const FollowsQuery = Type.Object({
  ...PageQuery.properties,
  mutual: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1,
      description:
        '1: only the members also in that relation with me (followers who follow me too; followings I follow too); 0: only the others',
    }),
  ),
  cursor: CursorParam,
});

export const IsFollowed = Type.Object({ is_followed: Type.Boolean() });
export const IsFollower = Type.Object({ is_follower: Type.Boolean() });
