import { Type } from 'typebox';
import { ROLES, USER_ORDER_FIELDS, USERNAME_MAX_LENGTH, USERNAME_PATTERN } from '../../domain/users.js';
import { Nullable, OrderingParam } from './common.js';

export const UserRef = Type.Ref('User');

export const Counters = Type.Object({
  discussions: Nullable(Type.Integer()),
  posts: Nullable(Type.Integer()),
  statuses: Nullable(Type.Integer()),
  polls: Nullable(Type.Integer()),
  followings: Nullable(Type.Integer()),
  followers: Nullable(Type.Integer()),
  categories: Nullable(Type.Integer()),
  connections: Type.Optional(Nullable(Type.Integer())),
  connection_requests_sent: Type.Optional(Nullable(Type.Integer())),
  connection_requests_received: Type.Optional(Nullable(Type.Integer())),
});

const Username = Type.String({ pattern: USERNAME_PATTERN, minLength: 1, maxLength: USERNAME_MAX_LENGTH });
const Password = Type.String({ minLength: 8, maxLength: 128 });
const Email = Type.String({ format: 'email', maxLength: 254 });
export const Role = Nullable(Type.Union(ROLES.map((role) => Type.Literal(role))));

export const SignupBody = Type.Object({
  username: Username,
  ext_id: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 255 }))),
  real_name: Type.Optional(Type.String({ maxLength: 255 })),
  email: Type.Optional(Nullable(Email)),
  password: Type.Optional(Password),
  role: Type.Optional(Role),
  avatar: Type.Optional(Nullable(Type.String({ format: 'uri', maxLength: 2000 }))),
  // Tag ids: positive 32-bit integers (an unbounded integer lets "1e309", Infinity, through the schema).
  tags: Type.Optional(Nullable(Type.Array(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), { maxItems: 1000 }))),
});

export const SignupResult = Type.Object({
  id: Type.Integer(),
  ext_id: Nullable(Type.String()),
  username: Type.String(),
  email: Nullable(Type.String()),
  role: Nullable(Type.String()),
  tags: Nullable(Type.Array(Type.Integer())),
  avatar: Nullable(Type.String()),
});

export const AccountCreateBody = Type.Object({
  username: Username,
  email: Email,
  password: Password,
});

export const ProfilePatch = Type.Object(
  {
    real_name: Type.Optional(Type.String({ maxLength: 255 })),
    bio: Type.Optional(Type.String({ maxLength: 10_000 })),
    location: Type.Optional(Type.String({ maxLength: 100 })),
    location_lat_lng: Type.Optional(Type.String({ maxLength: 100 })),
    position_lat_lng: Type.Optional(Type.String({ maxLength: 100 })),
    date_of_birth: Type.Optional(Nullable(Type.String({ format: 'date' }))),
    description: Type.Optional(Type.String({ maxLength: 50 })),
    gender: Type.Optional(Type.Union([Type.Literal('Male'), Type.Literal('Female'), Type.Literal('Unspecified')])),
    website: Type.Optional(Type.Union([Type.Literal(''), Type.String({ format: 'uri', maxLength: 200 })])),
  },
  // Other fields (username, role, id, counters...) are read-only: stripped before the handler sees them.
  { additionalProperties: false },
);

export const UserListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
  search: Type.Optional(Type.String({ maxLength: 255 })),
  username: Type.Optional(Type.String({ maxLength: 255 })),
  ordering: OrderingParam(USER_ORDER_FIELDS),
});
