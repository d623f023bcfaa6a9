/** The rules about users that the HTTP schemas, the CLI, the services and the table types share. Pure. */

/** The roles a user may hold (the `users.role` CHECK of migration 0001 lists the same). */
export const ROLES = ['admin', 'moderator', 'editor'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

/** Usernames: letters, digits, `_` and `-`, 1 to 255 of them (the `users.username` CHECK of migration 0001). */
export const USERNAME_PATTERN = '^[A-Za-z0-9_-]+$';
export const USERNAME_MAX_LENGTH = 255;

export const isUsername = (value: string) =>
  value.length >= 1 && value.length <= USERNAME_MAX_LENGTH && new RegExp(USERNAME_PATTERN).test(value);

/** Who may act on a member's own things (profile, settings, private counters): the member and admins. */
export const isSelfOrAdmin = (viewer: { id: number; role: string | null } | null, userId: number) =>
  viewer !== null && (viewer.id === userId || viewer.role === 'admin');

/** The fields the user list may be ordered by. */
export const USER_ORDER_FIELDS = ['id', 'username', 'date_joined'] as const;
export type UserOrderField = (typeof USER_ORDER_FIELDS)[number];

/** The fields search results may be ordered by (`ordering`); without it, they come by relevance. */
export const SEARCH_ORDER_FIELDS = ['username', 'real_name'] as const;
export type SearchOrderField = (typeof SEARCH_ORDER_FIELDS)[number];
