import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import * as tokens from '../db/repositories/tokens.js';
import * as users from '../db/repositories/users.js';
import { AppError } from '../domain/errors.js';
import { hashRefreshToken, newRefreshToken, signAccessToken } from './tokens.js';
import { checkPassword, hashPassword } from './users.js';

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

/** The fields of an OAuth 2.0 token request that kith reads. */
export interface TokenRequest {
  grant_type: string;
  username?: string | undefined;
  password?: string | undefined;
  refresh_token?: string | undefined;
}

const invalidGrant = (detail: string) =>
  new AppError(400, 'invalid_grant', detail, { error: 'invalid_grant', error_description: detail });

const missing = (field: string) =>
  new AppError(400, 'invalid', `${field}: This field is required.`, {
    error: 'invalid_request',
    error_description: `${field} is required`,
  });

/** The token endpoint: the password and refresh_token grants; a missing field or another grant is a 400. */
export async function grant(db: Database, settings: TokenSettings, body: TokenRequest): Promise<TokenResponse> {
  switch (body.grant_type) {
    case 'password':
      if (!body.username) throw missing('username');
      if (body.password === undefined) throw missing('password');
      return passwordGrant(db, settings, body.username, body.password);
    case 'refresh_token':
      if (!body.refresh_token) throw missing('refresh_token');
      return refreshGrant(db, settings, body.refresh_token);
    default:
      throw new AppError(400, 'unsupported_grant_type', 'Only the password and refresh_token grants are supported.', {
        error: 'unsupported_grant_type',
      });
  }
}

/** Stores a fresh refresh token for the user (in the caller's transaction, in `family` or a new one) and answers both tokens. */
async function issue(
  db: Database,
  settings: TokenSettings,
  user: { id: number; tokens_not_before: number },
  family?: string,
): Promise<TokenResponse> {
  const userId = user.id;
  const refresh = newRefreshToken();
  await tokens.insertRefreshToken(db, {
    hash: refresh.hash,
    userId,
    expires: new Date(Date.now() + settings.refreshTtl * 1000),
    family,
  });
  return {
    access_token: await signAccessToken(settings.secret, userId, settings.accessTtl, user.tokens_not_before),
    token_type: 'Bearer',
    expires_in: settings.accessTtl,
    refresh_token: refresh.token,
    scope: 'read write',
  };
}

/** The OAuth 2.0 password grant. */
export async function passwordGrant(db: Database, settings: TokenSettings, username: string, password: string) {
  const user = await users.findByUsername(db, username);
  // An unknown or passwordless member is checked against a stand-in hash, so the answer takes the
  // same time whether the username exists or not (no enumeration by timing).
  const matches = await checkPassword(user?.password_hash ? user : { password_hash: await standInHash() }, password);
  if (!user?.is_active || !user.password_hash || !matches) throw invalidGrant('Invalid credentials given.');
  return issue(db, settings, user);
}

let standIn: Promise<string> | undefined;
/** A hash of a random password, made once, that no password matches. */
function standInHash(): Promise<string> {
  if (!standIn) standIn = hashPassword(randomBytes(24).toString('base64url'));
  return standIn;
}

/**
 * The OAuth 2.0 refresh_token grant: the refresh token is used once and replaced by one of the same
 * family, in one transaction (a failure between the two never leaves the member without a token).
 * A token that turns out expired or whose user is gone is still used up. A token used before,
 * presented again, revokes its whole family: whoever refreshed first (the member or a thief) loses
 * access along with the replayer, and the member signs in again.
 */
export async function refreshGrant(db: Database, settings: TokenSettings, refreshToken: string) {
  const issued = await db.transaction().execute(async (tx) => {
    const used = await tokens.useRefreshToken(tx, hashRefreshToken(refreshToken));
    if (!used) return undefined;
    if (used.reused) {
      await tokens.revokeFamily(tx, used.family);
      return undefined;
    }
    if (used.expires.getTime() <= Date.now()) return undefined;
    const user = await users.findById(tx, used.userId);
    if (!user?.is_active) return undefined;
    return issue(tx, settings, user, used.family);
  });
  if (!issued) throw invalidGrant('Invalid refresh token.');
  return issued;
}
