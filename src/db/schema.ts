import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { NotificationType } from '../domain/events.js';
import type { Role } from '../domain/users.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  ext_id: string | null;
  password_hash: string | null;
  role: Role | null;
  is_active: Generated<boolean>;
  real_name: Generated<string>;
  avatar: string | null;
  cover: string | null;
  bio: Generated<string>;
  location: Generated<string>;
  location_lat_lng: Generated<string>;
  position_lat_lng: Generated<string>;
  date_of_birth: string | null;
  description: Generated<string>;
  gender: Generated<'Male' | 'Female' | 'Unspecified'>;
  website: Generated<string>;
  company_name: Generated<string>;
  company_role: Generated<string>;
  reputation: Generated<number>;
  community_badge: Generated<boolean>;
  reg_approved: Generated<boolean>;
  deleted: Generated<boolean>;
  date_joined: Generated<Date>;
  connections_count: Generated<number>;
  requests_sent_count: Generated<number>;
  requests_received_count: Generated<number>;
  followers_count: Generated<number>;
  followings_count: Generated<number>;
  /** A moderation block (migration 0014): when it began; null when not blocked. A blocked member is inactive. */
  blocked_at: Generated<Date | null>;
  /** How many days the block lasts and when it ends; both null for a block for ever. */
  days_blocked: Generated<number | null>;
  block_expires_at: Generated<Date | null>;
  /** Access tokens issued (`iat`) before this second (Unix time) are refused: set when the member is withdrawn (migration 0019). */
  tokens_not_before: Generated<number>;
  /** Bumped (one global sequence) by every change that can alter the member's lists or the statuses they see (migration 0016). */
  graph_version: Generated<string>;
}

export interface ConnectionRequestsTable {
  id: Generated<number>;
  from_user_id: number;
  to_user_id: number;
  created: Generated<Date>;
  rejected: Date | null;
  viewed: Date | null;
  /** Its recipient hides its sender: out of the recipient's sight, waiting as ever for the sender (migration 0013). */
  withheld: Generated<boolean>;
}

export interface ConnectionsTable {
  user_id: number;
  friend_id: number;
  created: Timestamp;
}

export interface DynamicPreferencesTable {
  id: number;
  section: string;
  name: string;
  value: ColumnType<unknown, string, string>;
}

export interface RefreshTokensTable {
  token_hash: string;
  user_id: number;
  expires: Timestamp;
  created: Generated<Date>;
  /** The sign-in this token descends from, by refreshing (migration 0010). */
  family: Generated<string>;
  /** When it was exchanged for a new one; a used token presented again revokes its family. */
  used_at: Timestamp | null;
}

export interface EventsTable {
  id: Generated<number>;
  type: string;
  created: Generated<Date>;
  from_user_id: number;
  to_user_id: number;
  data: ColumnType<Record<string, unknown>, string, string>;
}

export interface NotificationsTable {
  id: Generated<number>;
  user_id: number;
  type: NotificationType;
  actor_id: number;
  event_id: number;
  request_id: number | null;
  created: Generated<Date>;
  read_at: Date | null;
}

export interface WebhookEndpointsTable {
  id: Generated<number>;
  target: string;
  description: Generated<string>;
  is_active: Generated<boolean>;
  ssl_cert_verification: Generated<boolean>;
  signing_secret: string;
  previous_secret: string | null;
  previous_secret_expires: Date | null;
  failing_since: Date | null;
  disabled_reason: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface WebhookEndpointEventsTable {
  endpoint_id: number;
  type: string;
  added_at: Generated<Date>;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  endpoint_id: number;
  event_id: number;
  status: Generated<'pending' | 'succeeded' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  created_at: Generated<Date>;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  endpoint_id: number;
  event_id: number;
  created_at: Timestamp;
  sent_at: Timestamp;
  http_request_body: string;
  http_request_signature_header: string;
  http_response_code: number | null;
  http_response_body: Generated<string>;
  error: string | null;
  next_retry: Timestamp | null;
}

/** A member's setting that differs from the catalogue's default (src/domain/user-settings.ts). */
export interface UserSettingsTable {
  user_id: number;
  name: string;
  value: ColumnType<unknown, string, string>;
  updated: Generated<Date>;
}

export interface UserJsonTable {
  user_id: number;
  head: string;
  tail: string;
  follow_head: string;
  follow_tail: string;
  /** A new value of the same sequence whenever the stored text changes (migration 0016). */
  json_version: Generated<string>;
}

export interface FollowsTable {
  follower_id: number;
  followed_id: number;
  created: Generated<Date>;
}

export interface UserHidesTable {
  hider_id: number;
  hidden_id: number;
  created_at: Generated<Date>;
}

export interface KithMetaTable {
  key: string;
  value: string;
}

export interface DB {
  follows: FollowsTable;
  user_json: UserJsonTable;
  kith_meta: KithMetaTable;
  events: EventsTable;
  notifications: NotificationsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_endpoint_events: WebhookEndpointEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  users: UsersTable;
  connection_requests: ConnectionRequestsTable;
  connections: ConnectionsTable;
  dynamic_preferences: DynamicPreferencesTable;
  refresh_tokens: RefreshTokensTable;
  user_hides: UserHidesTable;
  user_settings: UserSettingsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type ConnectionRequestRow = Selectable<ConnectionRequestsTable>;
