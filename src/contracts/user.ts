import { type Static, type TSchema, Type } from 'typebox';
import type { UserRow } from '../db/schema.js';

/**
 * The User of the API (`schemas/user.md`) and the signed-in member's own view (Me): their schemas
 * and their one renderer. HTTP responses, stored list JSON, notifications, realtime messages and
 * the CLI all show a user through `presentUser` / `presentMe`, nothing else.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ConnectionStatus = Nullable(
  Type.Union([
    Type.Literal('connected'),
    Type.Literal('sent_connection_request'),
    Type.Literal('received_connection_request'),
    Type.Literal('followed'),
  ]),
);

/**
 * Which graph the community shows (`configurations.follow_enabled`): friendship (connections,
 * requests) or follow. It decides the status vocabulary and whether the follow counters are numbers.
 */
export type GraphMode = 'friendship' | 'follow';

export const modeOf = (community: { followEnabled: boolean }): GraphMode =>
  community.followEnabled ? 'follow' : 'friendship';

const DateTime = Type.String({ format: 'date-time' });

/** Every field of the User schema; counters of features kith does not have are null. */
export const userProperties = {
  id: Type.Integer(),
  username: Type.String(),
  real_name: Type.String(),
  avatar: Nullable(Type.String()),
  ext_id: Nullable(Type.String()),
  followings_counter: Nullable(Type.Integer()),
  followers_counter: Nullable(Type.Integer()),
  posts_counter: Nullable(Type.Integer()),
  discussions_counter: Nullable(Type.Integer()),
  polls_counter: Nullable(Type.Integer()),
  connection_status: ConnectionStatus,
  categories_counter: Nullable(Type.Integer()),
  connections_counter: Nullable(Type.Integer()),
  date_joined: DateTime,
  bio: Type.String(),
  location: Type.String(),
  location_lat_lng: Type.String(),
  position_lat_lng: Type.String(),
  date_of_birth: Nullable(Type.String({ format: 'date' })),
  description: Type.String(),
  gender: Type.String(),
  website: Type.String(),
  cover: Nullable(Type.String()),
  tags: Type.Array(Type.Unknown()),
  reputation: Type.Integer(),
  community_badge: Type.Boolean(),
  reg_approved: Type.Boolean(),
  deleted: Type.Boolean(),
  company_name: Type.String(),
  company_role: Type.String(),
};

export const User = Type.Object(userProperties, { $id: 'User' });

export const Me = Type.Object(
  {
    ...userProperties,
    email: Nullable(Type.String()),
    email_isvalid: Type.Boolean(),
    role: Nullable(Type.String()),
    permission: Type.Record(Type.String(), Type.Boolean()),
    unseen_interactions_counter: Type.Integer(),
    unseen_notification_banners_counter: Type.Integer(),
    connection_requests_sent_counter: Type.Integer(),
    connection_requests_received_counter: Type.Integer(),
  },
  { $id: 'Me' },
);

/** The columns a User is rendered from. */
export const USER_COLUMNS = [
  'id',
  'username',
  'real_name',
  'avatar',
  'ext_id',
  'connections_count',
  'followers_count',
  'followings_count',
  'date_joined',
  'bio',
  'location',
  'location_lat_lng',
  'position_lat_lng',
  'date_of_birth',
  'description',
  'gender',
  'website',
  'cover',
  'reputation',
  'community_badge',
  'reg_approved',
  'deleted',
  'company_name',
  'company_role',
] as const satisfies ReadonlyArray<keyof UserRow>;

export type UserFields = Pick<UserRow, (typeof USER_COLUMNS)[number]>;

/** A user as the API shows it to another member: an allow-list of the User schema's fields. */
export function presentUser(row: UserFields, connectionStatus: string | null, mode: GraphMode): Static<typeof User> {
  return {
    id: row.id,
    username: row.username,
    real_name: row.real_name,
    avatar: row.avatar,
    ext_id: row.ext_id,
    followings_counter: mode === 'follow' ? row.followings_count : null,
    followers_counter: mode === 'follow' ? row.followers_count : null,
    posts_counter: null,
    discussions_counter: null,
    polls_counter: null,
    connection_status: connectionStatus as Static<typeof User>['connection_status'],
    categories_counter: null,
    connections_counter: row.connections_count,
    date_joined: row.date_joined.toISOString(),
    bio: row.bio,
    location: row.location,
    location_lat_lng: row.location_lat_lng,
    position_lat_lng: row.position_lat_lng,
    date_of_birth: row.date_of_birth,
    description: row.description,
    gender: row.gender,
    website: row.website,
    cover: row.cover,
    tags: [],
    reputation: row.reputation,
    community_badge: row.community_badge,
    reg_approved: row.reg_approved,
    deleted: row.deleted,
    company_name: row.company_name,
    company_role: row.company_role,
  };
}

/** The authenticated user's own view: private fields and the request counters. */
export function presentMe(
  row: Omit<UserRow, 'password_hash'>,
  mode: GraphMode,
  unseenNotifications = 0,
): Static<typeof Me> {
  return {
    ...presentUser(row, null, mode),
    email: row.email,
    email_isvalid: row.email !== null,
    role: row.role,
    permission: {},
    unseen_interactions_counter: unseenNotifications,
    unseen_notification_banners_counter: 0,
    connection_requests_sent_counter: row.requests_sent_count,
    connection_requests_received_counter: row.requests_received_count,
  };
}

/** Where a list inserts the viewer's status into a stored user: the one viewer-dependent field. */
const STATUS_FIELD = '"connection_status":';

function split(json: string): { head: string; tail: string } {
  const at = json.indexOf(`${STATUS_FIELD}null`) + STATUS_FIELD.length;
  return { head: json.slice(0, at), tail: json.slice(at + 'null'.length) };
}

/**
 * A user's User JSON as lists store it (`user_json`), in each mode: the text before and after the
 * connection_status value, so a page joins stored text and one status per item instead of
 * building 30 fields per user per request. Rendered by `presentUser`, nothing else; the users
 * repository stores it in the transaction of every change to the user's row. A list knows its
 * mode (the friendship lists answer only in friendship mode, the follow lists only in follow
 * mode), so it picks its pair of parts without a switch. The key cannot occur earlier in the
 * text: inside a JSON string every quote is escaped.
 */
export function storedUserParts(row: UserFields): {
  head: string;
  tail: string;
  follow_head: string;
  follow_tail: string;
} {
  const friendship = split(JSON.stringify(presentUser(row, null, 'friendship')));
  const follow = split(JSON.stringify(presentUser(row, null, 'follow')));
  return { ...friendship, follow_head: follow.head, follow_tail: follow.tail };
}
