import type { Static } from 'typebox';
import { presentNotificationGroup } from '../../contracts/notification.js';
import { type Me, presentMe, presentUser, type User } from '../../contracts/user.js';
import type { UserRow } from '../../db/schema.js';
import type { ConnectionRequest } from './connections.js';
import type { Endpoint } from './webhooks.js';

// Example bodies for the OpenAPI document. Users are rendered by the one renderer (presentUser), so
// an example can never show a field the API does not send; the test validates every example.

const joined = new Date('2024-03-01T09:30:00.000Z');

const row = (id: number, username: string, real_name: string): UserRow => ({
  id,
  username,
  email: `${username}@example.com`,
  ext_id: null,
  password_hash: null,
  role: null,
  is_active: true,
  real_name,
  avatar: null,
  cover: null,
  bio: '',
  location: '',
  location_lat_lng: '',
  position_lat_lng: '',
  date_of_birth: null,
  description: '',
  gender: 'Unspecified',
  website: '',
  company_name: '',
  company_role: '',
  reputation: 0,
  community_badge: false,
  reg_approved: true,
  deleted: false,
  date_joined: joined,
  connections_count: 1,
  requests_sent_count: 0,
  requests_received_count: 1,
  followers_count: 0,
  followings_count: 0,
  blocked_at: null,
  days_blocked: null,
  block_expires_at: null,
  tokens_not_before: 0,
  graph_version: '1',
});

/** The user of most examples. */
export const exampleRow = row(2, 'ada', 'Ada Lovelace');
const ada = exampleRow;
const grace = row(3, 'grace', 'Grace Hopper');

export const exampleUser: Static<typeof User> = presentUser(ada, 'connected', 'friendship');
export const exampleMe: Static<typeof Me> = presentMe(grace, 'friendship', 1);

/** A page of `results`, as the list endpoints answer: the first of two pages. */
export const examplePage = <T>(results: T[], path: string) => ({
  count: results.length + 1,
  next: `https://community.example.com/api/v2/${path}?limit=${results.length}&offset=${results.length}`,
  previous: null,
  results,
});

export const exampleConnectionRequest: Static<typeof ConnectionRequest> = {
  id: 7,
  from_user: presentUser(ada, 'sent_connection_request', 'friendship'),
  to_user: presentUser(grace, 'received_connection_request', 'friendship'),
  created: '2024-05-02T10:00:00.000Z',
  rejected: null,
  viewed: null,
};

export const exampleNotificationGroup = presentNotificationGroup(
  {
    id: 41,
    type: 'connection_request',
    created: new Date('2024-05-02T10:00:00.000Z'),
    read_at: null,
    actor: { ...ada, connection_status: 'received_connection_request' },
  },
  'friendship',
);

export const exampleEndpoint: Static<typeof Endpoint> = {
  id: 1,
  created_at: '2024-05-01T08:00:00.000Z',
  updated_at: '2024-05-01T08:00:00.000Z',
  is_active: true,
  target: 'https://hooks.example.com/kith',
  description: 'CRM sync',
  events: [{ type: 'connection.created', added_at: '2024-05-01T08:00:00.000Z' }],
  ssl_cert_verification: true,
  disabled_reason: null,
};
