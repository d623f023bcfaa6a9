import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

export interface AccessClaims {
  user_id: number;
}

/** Signs an access token as the SelfCommunity JWT page describes (HS256, user_id, token_type, jti, iat, exp). */
export async function signAccessToken(secret: string, userId: number, ttlSeconds: number): Promise<string> {
  return new SignJWT({ user_id: userId, token_type: 'access' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

export type VerifyResult = { ok: true; userId: number } | { ok: false; reason: string };

/** Verifies signature, algorithm (HS256 only) and every required claim. Never throws. */
export async function verifyAccessToken(secret: string | Uint8Array, token: string): Promise<VerifyResult> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'iat', 'jti', 'user_id', 'token_type'],
    });
    if (payload.token_type !== 'access') return { ok: false, reason: 'Token is not an access token.' };
    if (typeof payload.jti !== 'string' || payload.jti === '') return { ok: false, reason: 'Token has no valid jti.' };
    if (typeof payload.iat !== 'number') return { ok: false, reason: 'Token has no valid iat.' };
    const userId = payload.user_id;
    if (typeof userId !== 'number' || !Number.isSafeInteger(userId) || userId < 1) {
      return { ok: false, reason: 'Token has no valid user_id.' };
    }
    return { ok: true, userId };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'Token has expired.' };
    return { ok: false, reason: 'Token is invalid.' };
  }
}

/** A fresh opaque refresh token and the hash under which it is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
