import assert from 'node:assert/strict';

/** Every field of ../shared/reference/schemas/user.md (deleted_at and can_send_pm_to are conditional). */
export const USER_FIELDS = [
  'id',
  'username',
  'real_name',
  'avatar',
  'ext_id',
  'followings_counter',
  'followers_counter',
  'posts_counter',
  'discussions_counter',
  'polls_counter',
  'connection_status',
  'categories_counter',
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
  'tags',
  'reputation',
  'community_badge',
  'reg_approved',
  'deleted',
  'company_name',
  'company_role',
] as const;

/** Fields that must never appear in a User shown to others. */
const PRIVATE_FIELDS = [
  'email',
  'role',
  'password',
  'password_hash',
  'is_active',
  'connections_count',
  'requests_sent_count',
  'requests_received_count',
  'connection_requests_sent_counter',
  'connection_requests_received_counter',
];

/** An ISO 8601 date-time in UTC with a Z. */
export const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export function assertIsoZ(value: unknown, label = 'date') {
  assert.equal(typeof value, 'string', `${label} is a string`);
  assert.match(value as string, ISO_Z, `${label} is ISO 8601 with Z`);
  assert.ok(!Number.isNaN(Date.parse(value as string)), `${label} parses`);
}

/** A full User object as the schema page describes it, without private fields. */
export function assertUser(user: any, expected: { id?: number; username?: string; connection_status?: unknown } = {}) {
  assert.equal(typeof user, 'object');
  assert.notEqual(user, null);
  for (const field of USER_FIELDS) assert.ok(field in user, `User has ${field}`);
  for (const field of PRIVATE_FIELDS) assert.ok(!(field in user), `User does not leak ${field}`);
  assert.equal(typeof user.id, 'number');
  assert.equal(typeof user.username, 'string');
  assert.equal(typeof user.real_name, 'string');
  assertIsoZ(user.date_joined, 'date_joined');
  assert.deepEqual(user.tags, []);
  assert.ok(['Male', 'Female', 'Unspecified'].includes(user.gender));
  for (const counter of ['posts_counter', 'discussions_counter', 'polls_counter', 'categories_counter'])
    assert.equal(user[counter], null, `${counter} is null (no such feature)`);
  for (const flag of ['community_badge', 'reg_approved', 'deleted']) assert.equal(typeof user[flag], 'boolean');
  assert.equal(typeof user.reputation, 'number');
  assert.ok(
    [null, 'connected', 'sent_connection_request', 'received_connection_request'].includes(user.connection_status),
  );
  if (expected.id !== undefined) assert.equal(user.id, expected.id);
  if (expected.username !== undefined) assert.equal(user.username, expected.username);
  if ('connection_status' in expected) assert.equal(user.connection_status, expected.connection_status);
}

/** The keys of a DRF limit/offset page. */
export function assertPage(body: any) {
  assert.deepEqual(Object.keys(body).sort(), ['count', 'next', 'previous', 'results']);
  assert.equal(typeof body.count, 'number');
  assert.ok(Array.isArray(body.results));
}

/**
 * The User a member with this row is shown as, written from ../shared/reference/schemas/user.md
 * and the README's decisions (counters of features kith has not are null, tags empty), for tests to
 * compare answers with: not the server's renderer.
 */
export function expectedUser(row: Record<string, any>, connectionStatus: string | null, mode: 'friendship' | 'follow') {
  return {
    id: row.id,
    username: row.username,
    real_name: row.real_name,
    avatar: row.avatar,
    ext_id: row.ext_id,
    // Integers in follow mode, null in friendship mode (schemas/user.md).
    followings_counter: mode === 'follow' ? row.followings_count : null,
    followers_counter: mode === 'follow' ? row.followers_count : null,
    posts_counter: null,
    discussions_counter: null,
    polls_counter: null,
    connection_status: connectionStatus,
    categories_counter: null,
    connections_counter: row.connections_count,
    date_joined: new Date(row.date_joined).toISOString(),
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
