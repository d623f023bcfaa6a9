import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createVerifier, TokenError } from 'fast-jwt';
import { SignJWT } from 'jose';

export interface AccessClaims {
  user_id: number;
}

/**
 * Signs an access token as the SelfCommunity JWT page describes (HS256, user_id, token_type, jti,
 * iat, exp). `notBefore`: the member's `tokens_not_before`; a token issued in the very second of a
 * withdrawal says it was issued in the next one (within the verifier's leeway), so it works.
 */
export async function signAccessToken(
  secret: string,
  userId: number,
  ttlSeconds: number,
  notBefore = 0,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ user_id: userId, token_type: 'access' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(randomUUID())
    .setIssuedAt(Math.max(now, notBefore))
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** `issuedAt`: the token's `iat`, which the gate compares with its member's `tokens_not_before`. */
export type VerifyResult = { ok: true; userId: number; issuedAt: number } | { ok: false; reason: string };

/** Verifies signature, algorithm (HS256 only) and every required claim, without a cache. Never throws. */
export async function verifyAccessToken(secret: string, token: string): Promise<VerifyResult> {
  const result = verifyUncached(secret, token);
  return result.ok ? { ok: true, userId: result.userId, issuedAt: result.issuedAt } : result;
}

/**
 * The server's verifier: verifying a signature costs about 200 µs of CPU, a lookup nothing, and a
 * client sends the same token with every request, so tokens already verified are remembered with
 * their expiry (at most `capacity`, the oldest forgotten first). A token is only ever accepted
 * until its own `exp`. One per app, shared by the HTTP gate and the realtime handshake.
 */
export class TokenVerifier {
  readonly #key: string;
  readonly #verified = new Map<string, { userId: number; issuedAt: number; exp: number }>();

  constructor(
    secret: string,
    private readonly capacity = 10_000,
  ) {
    this.#key = secret;
  }

  /** Verifies signature, algorithm and claims (see `verifyAccessToken`). Never throws. */
  async verify(token: string): Promise<VerifyResult> {
    const hit = this.#verified.get(token);
    if (hit) {
      if (Date.now() / 1000 < hit.exp) return { ok: true, userId: hit.userId, issuedAt: hit.issuedAt };
      this.#verified.delete(token);
    }
    const result = verifyUncached(this.#key, token);
    if (!result.ok) return result;
    if (this.#verified.size >= this.capacity) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { userId: result.userId, issuedAt: result.issuedAt, exp: result.exp });
    return { ok: true, userId: result.userId, issuedAt: result.issuedAt };
  }
}

/**
 * Whether a token issued at `issuedAt` still speaks for its member: not if it predates the member's
 * last withdrawal (blocked, deactivated, deleted), even once they are back.
 */
export const tokenCurrent = (member: { tokens_not_before: number }, issuedAt: number) =>
  issuedAt >= member.tokens_not_before;

const IAT_LEEWAY_SECONDS = 60;
/** The largest id a member can have (users.id is a PostgreSQL integer). */
const MAX_MEMBER_ID = 2_147_483_647;

const REQUIRED_CLAIMS = ['exp', 'iat', 'jti', 'user_id', 'token_type'];

type Verified = { ok: true; userId: number; issuedAt: number; exp: number } | { ok: false; reason: string };

/**
 * HS256 only, every required claim present, `exp`/`nbf` checked, `crit` refused unless understood
 * (none is): fast-jwt's verifier, which runs node:crypto synchronously (a few µs; WebCrypto's
 * `jwtVerify` cost about 200 µs of the server's CPU and a hop to the thread pool per token not yet
 * remembered). What kith adds: explicit typing, `token_type`, the `jti` forms, `iat` not in the
 * future, a member id in range. test/integration/forged-tokens.test.ts is the catalogue it answers.
 */
const verifiers = new Map<
  string,
  (token: string) => { header: Record<string, unknown>; payload: Record<string, unknown> }
>();

function verifierFor(key: string) {
  let verify = verifiers.get(key);
  if (!verify) {
    verify = createVerifier({
      key,
      algorithms: ['HS256'],
      complete: true,
      requiredClaims: REQUIRED_CLAIMS,
      cache: false,
    });
    verifiers.set(key, verify);
  }
  return verify;
}

function verifyUncached(key: string, token: string): Verified {
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    ({ header, payload } = verifierFor(key)(token));
  } catch (error) {
    if (error instanceof TokenError && error.code === TokenError.codes.expired)
      return { ok: false, reason: 'Token has expired.' };
    return { ok: false, reason: 'Token is invalid.' };
  }
  if (!accessTokenType(header.typ)) return { ok: false, reason: 'Token is not an access token.' };
  if (payload.token_type !== 'access') return { ok: false, reason: 'Token is not an access token.' };
  if (!validJti(payload.jti)) return { ok: false, reason: 'Token has no valid jti.' };
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return { ok: false, reason: 'Token has no valid iat.' };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return { ok: false, reason: 'Token is invalid.' };
  // A token cannot have been issued in the future (RFC 8725 §3.10); a minute allows for clock skew.
  if (iat > Date.now() / 1000 + IAT_LEEWAY_SECONDS) return { ok: false, reason: 'Token was issued in the future.' };
  const userId = payload.user_id;
  // Member ids are PostgreSQL integers: a larger one names nobody (and the lookup would fail with
  // "out of range" instead of finding no one).
  if (typeof userId !== 'number' || !Number.isSafeInteger(userId) || userId < 1 || userId > MAX_MEMBER_ID) {
    return { ok: false, reason: 'Token has no valid user_id.' };
  }
  return { ok: true, userId, issuedAt: iat, exp };
}

/**
 * Explicit typing (RFC 8725 §3.11): a token that says it is another kind of JWT (`secevent+jwt`,
 * `dpop+jwt`, …) is not an access token, even when signed with the secret. An untyped token, `JWT`
 * (what SelfCommunity's sample mints) and `at+jwt` (RFC 9068) are.
 */
function accessTokenType(typ: unknown): boolean {
  if (typ === undefined) return true;
  if (typeof typ !== 'string') return false;
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
