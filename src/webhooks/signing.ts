import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new endpoint signing secret, in the `whsec_` style receivers know. */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * The `SelfCommunity-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, with one
 * `v1=` per secret that is valid right now (the new and the expiring one during a rotation).
 */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  const signed = `${timestamp}.${body}`;
  const signatures = secrets.map((secret) => `v1=${createHmac('sha256', secret).update(signed).digest('hex')}`);
  return [`t=${timestamp}`, ...signatures].join(',');
}

/** Verifies a header as a receiver would (used by tests and documented for receivers). */
export function verifySignature(
  header: string,
  secret: string,
  body: string,
  toleranceSeconds: number,
  now = Date.now(),
) {
  const parts = header.split(',').map((p) => p.split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isFinite(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts
    .filter(([k]) => k === 'v1')
    .some(([, v]) => v !== undefined && v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}
