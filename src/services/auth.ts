import type { Database } from '../db/database.js';
import * as users from '../db/repositories/users.js';
import { AppError } from '../domain/errors.js';
import { hashRefreshToken, newRefreshToken, signAccessToken } from './tokens.js';
import { checkPassword } from './users.js';

export interface TokenSettings {
  secret: string;
  accessTtl: number;
  refreshTtl: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

const invalidGrant = (detail: string) =>
  new AppError(400, 'invalid_grant', detail, { error: 'invalid_grant', error_description: detail });

async function issue(db: Database, settings: TokenSettings, userId: number): Promise<TokenResponse> {
  const refresh = newRefreshToken();
  await db
    .insertInto('refresh_tokens')
    .values({ token_hash: refresh.hash, user_id: userId, expires: new Date(Date.now() + settings.refreshTtl * 1000) })
    .execute();
  return {
    access_token: await signAccessToken(settings.secret, userId, settings.accessTtl),
    token_type: 'Bearer',
    expires_in: settings.accessTtl,
    refresh_token: refresh.token,
    scope: 'read write',
  };
}

/** The OAuth 2.0 password grant. */
export async function passwordGrant(db: Database, settings: TokenSettings, username: string, password: string) {
  const user = await users.findByUsername(db, username);
  // Verify even for unknown users would leak less timing; argon2 dominates, so unknown users fail fast only.
  if (!user?.is_active || !(await checkPassword(user, password))) {
    throw invalidGrant('Invalid credentials given.');
  }
  return issue(db, settings, user.id);
}

/** The OAuth 2.0 refresh_token grant: the refresh token is used once and replaced. */
export async function refreshGrant(db: Database, settings: TokenSettings, refreshToken: string) {
  const used = await db
    .deleteFrom('refresh_tokens')
    .where('token_hash', '=', hashRefreshToken(refreshToken))
    .returning(['user_id', 'expires'])
    .executeTakeFirst();
  if (!used || used.expires.getTime() <= Date.now()) throw invalidGrant('Invalid refresh token.');
  const user = await users.findById(db, used.user_id);
  if (!user?.is_active) throw invalidGrant('Invalid refresh token.');
  return issue(db, settings, user.id);
}
