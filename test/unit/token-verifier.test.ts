import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { signAccessToken, TokenVerifier, verifyAccessToken } from '../../src/services/tokens.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789abcdef';

test('a remembered token is accepted only until its own exp', async () => {
  const verifier = new TokenVerifier(SECRET);
  const token = await signAccessToken(SECRET, 5, 1);
  assert.deepEqual(await verifier.verify(token), { ok: true, userId: 5 });
  assert.deepEqual(await verifier.verify(token), { ok: true, userId: 5 }); // from memory
  await new Promise((resolve) => setTimeout(resolve, 2100));
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
  assert.deepEqual(await verifyAccessToken(SECRET, good), { ok: true, userId: 6 });
});

test('memory is bounded: the oldest remembered token is forgotten first, and verified again', async () => {
  const verifier = new TokenVerifier(SECRET, 2);
  const tokens = [await signAccessToken(SECRET, 1, 60), await signAccessToken(SECRET, 2, 60)];
  for (const token of tokens) await verifier.verify(token);
  await verifier.verify(await signAccessToken(SECRET, 3, 60));
  // Forgotten, so checked afresh: still valid.
  assert.deepEqual(await verifier.verify(tokens[0]!), { ok: true, userId: 1 });
  const none = await new SignJWT({ user_id: 1, token_type: 'access', jti: 'x' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .sign(new TextEncoder().encode(SECRET));
  assert.equal((await verifier.verify(none)).ok, false, 'no exp: refused');
});
