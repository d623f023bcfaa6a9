import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import { signAccessToken, TokenVerifier, tokenCurrent, verifyAccessToken } from '../../src/services/tokens.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789abcdef';

/** What the verifier answers for a good token of `userId`: with the token's own iat. */
const accepted = (token: string, userId: number) => ({ ok: true, userId, issuedAt: decodeJwt(token).iat });

test('a remembered token is accepted only until its own exp', async () => {
  const verifier = new TokenVerifier(SECRET);
  // Two seconds: `iat` is the current second rounded down, so a one-second token signed late in
  // its second could already be expired when it is first verified.
  const token = await signAccessToken(SECRET, 5, 2);
  assert.deepEqual(await verifier.verify(token), accepted(token, 5));
  assert.deepEqual(await verifier.verify(token), accepted(token, 5)); // from memory
  await new Promise((resolve) => setTimeout(resolve, 3100));
  const later = await verifier.verify(token);
  assert.equal(later.ok, false);
});

test('a refused token is refused every time; other secrets are refused', async () => {
  const verifier = new TokenVerifier(SECRET);
  const forged = await signAccessToken(`${SECRET}-other`, 5, 60);
  assert.equal((await verifier.verify(forged)).ok, false);
  assert.equal((await verifier.verify(forged)).ok, false);
  assert.equal((await verifyAccessToken(SECRET, forged)).ok, false);
  const good = await signAccessToken(SECRET, 6, 60);
  assert.deepEqual(await verifyAccessToken(SECRET, good), accepted(good, 6));
});

test('memory is bounded: the oldest remembered token is forgotten first, and verified again', async () => {
  const verifier = new TokenVerifier(SECRET, 2);
  const tokens = [await signAccessToken(SECRET, 1, 60), await signAccessToken(SECRET, 2, 60)];
  for (const token of tokens) await verifier.verify(token);
  await verifier.verify(await signAccessToken(SECRET, 3, 60));
  // Forgotten, so checked afresh: still valid.
  assert.deepEqual(await verifier.verify(tokens[0]!), accepted(tokens[0]!, 1));
  const none = await new SignJWT({ user_id: 1, token_type: 'access', jti: 'x' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .sign(new TextEncoder().encode(SECRET));
  assert.equal((await verifier.verify(none)).ok, false, 'no exp: refused');
});

test("a token issued in a withdrawal's own second says it was issued in the next: current, and verified", async () => {
  const now = Math.floor(Date.now() / 1000);
  const plain = await signAccessToken(SECRET, 7, 60);
  const past = await signAccessToken(SECRET, 7, 60, now - 100);
  const cut = await signAccessToken(SECRET, 7, 60, now + 5);
  // (The clock may have reached the next second meanwhile.)
  assert.ok([now, now + 1].includes(decodeJwt(plain).iat!));
  assert.ok([now, now + 1].includes(decodeJwt(past).iat!));
  assert.equal(decodeJwt(cut).iat, now + 5);
  assert.ok(decodeJwt(cut).exp! - (now + 60) <= 1);
  assert.deepEqual(await verifyAccessToken(SECRET, cut), accepted(cut, 7));
  const member = { tokens_not_before: now + 5 };
  assert.equal(tokenCurrent(member, decodeJwt(plain).iat!), false);
  assert.equal(tokenCurrent(member, decodeJwt(cut).iat!), true);
  assert.equal(tokenCurrent({ tokens_not_before: 0 }, decodeJwt(plain).iat!), true);
});
