import type { UserRow } from '../db/schema.js';
import type { GraphMode } from './user.js';

/**
 * SelfCommunity's user status: `a` approved, `b` blocked, `d` deleted. A member deactivated by an
 * operator cannot use the community either: `b` too (the moderation list tells them apart by `blocked_at`).
 */
export function userStatus(row: Pick<UserRow, 'is_active' | 'deleted'>): 'a' | 'b' | 'd' {
  if (row.deleted) return 'd';
  return row.is_active ? 'a' : 'b';
}

/** A user inside a webhook payload: the fields of the connection events page, for the community's own systems. */
export function presentWebhookUser(row: UserRow, mode: GraphMode) {
  return {
    id: row.id,
    username: row.username,
    real_name: row.real_name,
    email: row.email,
    email_isvalid: row.email !== null,
    date_joined: row.date_joined.toISOString(),
    bio: row.bio,
    location: row.location,
    location_lat_lng: row.location_lat_lng,
    position_lat_lng: row.position_lat_lng,
    date_of_birth: row.date_of_birth,
    description: row.description,
    gender: row.gender,
    status: userStatus(row),
    website: row.website,
    avatar: row.avatar,
    cover: row.cover,
    ext_id: row.ext_id,
    tags: [],
    reputation: row.reputation,
    connection_requests_sent_counter: row.requests_sent_count,
    connection_requests_received_counter: row.requests_received_count,
    connections_counter: row.connections_count,
    followers_counter: mode === 'follow' ? row.followers_count : null,
    followings_counter: mode === 'follow' ? row.followings_count : null,
    posts_counter: null,
    discussions_counter: null,
    statuses_counter: null,
    polls_counter: null,
  };
}
