import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';

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

/** Verifies signature, algorithm (HS256 only) and every required claim, without a cache. Never throws. */
export async function verifyAccessToken(secret: string, token: string): Promise<VerifyResult> {
  const result = verifyUncached(Buffer.from(secret, 'utf8'), token);
  return result.ok ? { ok: true, userId: result.userId } : result;
}

/**
 * The server's verifier: verifying a signature costs about 10 µs of CPU, a lookup nothing, and a
 * client sends the same token with every request, so tokens already verified are remembered with
 * their expiry (at most `capacity`, the oldest forgotten first). A token is only ever accepted
 * until its own `exp`. One per app, shared by the HTTP gate and the realtime handshake.
 */
export class TokenVerifier {
  readonly #key: Buffer;
  readonly #verified = new Map<string, { userId: number; exp: number }>();

  constructor(
    secret: string,
    private readonly capacity = 10_000,
  ) {
    this.#key = Buffer.from(secret, 'utf8');
  }

  /** Verifies signature, algorithm and claims (see `verifyAccessToken`). Never throws. */
  async verify(token: string): Promise<VerifyResult> {
    const hit = this.#verified.get(token);
    if (hit) {
      if (Date.now() / 1000 < hit.exp) return { ok: true, userId: hit.userId };
      this.#verified.delete(token);
    }
    const result = verifyUncached(this.#key, token);
    if (!result.ok) return result;
    if (this.#verified.size >= this.capacity) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { userId: result.userId, exp: result.exp });
    return { ok: true, userId: result.userId };
  }
}

const IAT_LEEWAY_SECONDS = 60;
/** The largest id a member can have (users.id is a PostgreSQL integer). */
const MAX_MEMBER_ID = 2_147_483_647;
const REQUIRED_CLAIMS = ['exp', 'iat', 'jti', 'user_id', 'token_type'] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

type Claims = Record<string, unknown>;
type Verified = { ok: true; userId: number; exp: number } | { ok: false; reason: string };

const invalid: Verified = { ok: false, reason: 'Token is invalid.' };

/** A JWS part decoded as a JSON object, or undefined (not base64url, not JSON, not an object). */
function jsonPart(part: string): Claims | undefined {
  if (!BASE64URL.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Claims) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * HS256 (HMAC-SHA256, RFC 7515/7519) verified with node:crypto, synchronously: about 10 µs, where
 * WebCrypto's (jose's `jwtVerify`) cost about 200 µs of the server's CPU per token not yet
 * remembered, a hop to the thread pool included — the half of a write's server CPU that was not the
 * write when every token is new (bench case 7). What jose checked is checked here: the compact form,
 * the algorithm (HS256 only), no `crit` or `b64` header (kith understands no extension), the
 * signature (constant time, canonical encoding), the claims' presence and types, `exp` and `nbf`.
 * test/integration/forged-tokens.test.ts is the catalogue it answers.
 */
function verifyUncached(key: Buffer, token: string): Verified {
  const parts = token.split('.');
  if (parts.length !== 3) return invalid;
  const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
  const header = jsonPart(encodedHeader);
  if (header?.alg !== 'HS256' || 'crit' in header || 'b64' in header) return invalid;
  if (!BASE64URL.test(signature)) return invalid;
  const expected = createHmac('sha256', key).update(`${encodedHeader}.${encodedPayload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  // A signature's text must be the canonical encoding of its bytes (no stray trailing bits).
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid;
  if (given.toString('base64url') !== signature) return invalid;
  const payload = jsonPart(encodedPayload);
  if (!payload) return invalid;
  if (REQUIRED_CLAIMS.some((claim) => payload[claim] === undefined)) return invalid;
  const nowSeconds = Date.now() / 1000;
  const { exp, iat, nbf } = payload;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return invalid;
  if (exp <= Math.floor(nowSeconds)) return { ok: false, reason: 'Token has expired.' };
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > Math.floor(nowSeconds))) return invalid;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return { ok: false, reason: 'Token has no valid iat.' };
  const { typ } = header;
  if (typ !== undefined && (typeof typ !== 'string' || !accessTokenType(typ))) {
    return { ok: false, reason: 'Token is not an access token.' };
  }
  if (payload.token_type !== 'access') return { ok: false, reason: 'Token is not an access token.' };
  if (!validJti(payload.jti)) return { ok: false, reason: 'Token has no valid jti.' };
  // A token cannot have been issued in the future (RFC 8725 §3.10); a minute allows for clock skew.
  if (iat > nowSeconds + IAT_LEEWAY_SECONDS) return { ok: false, reason: 'Token was issued in the future.' };
  const userId = payload.user_id;
  // Member ids are PostgreSQL integers: a larger one names nobody (and the lookup would fail with
  // "out of range" instead of finding no one).
  if (typeof userId !== 'number' || !Number.isSafeInteger(userId) || userId < 1 || userId > MAX_MEMBER_ID) {
    return { ok: false, reason: 'Token has no valid user_id.' };
  }
  return { ok: true, userId, exp };
}

/**
 * Explicit typing (RFC 8725 §3.11): a token that says it is another kind of JWT (`secevent+jwt`,
 * `dpop+jwt`, …) is not an access token, even when signed with the secret. An untyped token, `JWT`
 * (what SelfCommunity's sample mints) and `at+jwt` (RFC 9068) are.
 */
function accessTokenType(typ: string): boolean {
  const type = typ.toLowerCase().replace(/^application\//, '');
  return type === 'jwt' || type === 'at+jwt';
}

/**
 * RFC 7519 makes `jti` a string, but the JWT page's own sample mints it as `new Date().getTime()`,
 * a number: communities copy that sample, so a finite number is a valid id too.
 */
function validJti(jti: unknown): boolean {
  return (typeof jti === 'string' && jti !== '') || (typeof jti === 'number' && Number.isFinite(jti));
}

/** A fresh opaque refresh token and the hash under which it is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
