import { Type } from 'typebox';
import { userProperties } from '../../contracts/user.js';
import { MODERATION_ORDER_FIELDS } from '../../services/moderation.js';
import { Nullable, OrderingParam } from './common.js';

const DateTime = Type.String({ format: 'date-time' });

/** SelfCommunity's `SCUserModerationType` as far as kith keeps its fields: the User, its account and its block. */
export const ModerationUser = Type.Object({
  ...userProperties,
  email: Nullable(Type.String()),
  email_isvalid: Type.Boolean(),
  role: Nullable(Type.String()),
  status: Type.Union([Type.Literal('a'), Type.Literal('b'), Type.Literal('d')], {
    description: 'a: approved; b: blocked (or deactivated by an operator: blocked_at is then null)',
  }),
  blocked_at: Nullable(DateTime),
  days_blocked: Nullable(Type.Integer({ description: 'null with blocked_at set: blocked for ever' })),
  expire_at: Nullable({ ...DateTime, description: 'When the block is lifted' }),
});

export const ModerationListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Part of the username or real name' })),
  days_blocked: Type.Optional(
    Type.Union([Type.Literal('days'), Type.Literal('forever')], {
      description: 'Only members blocked for some days, or for ever',
    }),
  ),
  order_by: OrderingParam(MODERATION_ORDER_FIELDS),
});

export const ModerateQuery = Type.Object({
  days_blocked: Type.Optional(
    Type.String({
      pattern: '^([1-9][0-9]{0,4}|forever)$',
      description: 'With status b: the number of days (1 to 99999) or forever (the default)',
    }),
  ),
  hard: Type.Optional(Type.Integer({ minimum: 0, maximum: 1, description: 'With status d: accepted, no effect' })),
});

export const ModerateBody = Type.Object({
  status: Type.Union([Type.Literal('a'), Type.Literal('b'), Type.Literal('d')], {
    description: 'a: approve (lift a block), b: block, d: delete',
  }),
});
