import type { Static } from 'typebox';
import type { ListedUser } from '../../db/repositories/connections.js';
import type { UserRow } from '../../db/schema.js';
import type { Me, User } from '../schemas/users.js';

type UserFields = Omit<ListedUser, 'email' | 'role' | 'is_active'> & Partial<Pick<UserRow, 'email' | 'role'>>;

/** A user as the API shows it to another member: an allow-list of the User schema's fields. */
export function presentUser(row: UserFields, connectionStatus: string | null): Static<typeof User> {
  return {
    id: row.id,
    username: row.username,
    real_name: row.real_name,
    avatar: row.avatar,
    ext_id: row.ext_id,
    followings_counter: null,
    followers_counter: null,
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
export function presentMe(row: UserRow, unseenNotifications = 0): Static<typeof Me> {
  return {
    ...presentUser(row, null),
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
