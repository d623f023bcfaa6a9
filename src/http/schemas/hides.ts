import { Type } from 'typebox';
import { USER_ORDER_FIELDS } from '../../domain/users.js';
import { OrderingParam, PageQuery } from './common.js';

const Filter = (description: string) => Type.Optional(Type.String({ maxLength: 255, description }));

export const HiddenUsersQuery = Type.Object({
  ...PageQuery.properties,
  search: Type.Optional(Type.String({ maxLength: 255, description: 'In username and real_name (case-insensitive)' })),
  username: Filter('Exactly this username (case-insensitive)'),
  real_name: Filter('Exactly this real name (case-insensitive)'),
  gender: Filter('Male, Female or Unspecified'),
  location: Filter('Exactly this location (case-insensitive)'),
  description: Filter('Exactly this description (case-insensitive)'),
  ordering: OrderingParam(USER_ORDER_FIELDS),
});

export const IsHidden = Type.Object({ is_hidden: Type.Boolean() });
export const IsHiddenBy = Type.Object({ is_hidden_by: Type.Boolean() });
