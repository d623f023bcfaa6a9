import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  ext_id: string | null;
  password_hash: string | null;
  role: 'admin' | 'moderator' | 'editor' | null;
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
}

export interface ConnectionRequestsTable {
  id: Generated<number>;
  from_user_id: number;
  to_user_id: number;
  created: Generated<Date>;
  rejected: Date | null;
  viewed: Date | null;
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
}

export interface DB {
  users: UsersTable;
  connection_requests: ConnectionRequestsTable;
  connections: ConnectionsTable;
  dynamic_preferences: DynamicPreferencesTable;
  refresh_tokens: RefreshTokensTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type ConnectionRequestRow = Selectable<ConnectionRequestsTable>;
