import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { signatureHeader, verifySignature } from '../../src/webhooks/signing.js';
import { addressProblem, targetProblem } from '../../src/webhooks/targets.js';

test('addresses: link-local and unspecified always refused; private ones only when not allowed', () => {
  const cases: Array<[string, boolean, boolean]> = [
    // address, refused when private is not allowed, refused when it is
    ['169.254.169.254', true, true],
    ['fe80::1', true, true],
    ['0.0.0.0', true, true],
    ['::', true, true],
    ['224.0.0.1', true, true],
    ['127.0.0.1', true, false],
    ['::1', true, false],
    ['::ffff:127.0.0.1', true, false],
    ['::ffff:169.254.169.254', true, true],
    ['10.1.2.3', true, false],
    ['172.16.0.1', true, false],
    ['172.32.0.1', false, false],
    ['192.168.1.1', true, false],
    ['fd00::1', true, false],
    ['8.8.8.8', false, false],
    ['2001:4860:4860::8888', false, false],
  ];
  for (const [address, strict, lenient] of cases) {
    assert.equal(addressProblem(address, false) !== undefined, strict, `${address} without private`);
    assert.equal(addressProblem(address, true) !== undefined, lenient, `${address} with private`);
  }
});

test('targets: only http(s), no credentials, and the resolved host is checked', async () => {
  assert.equal(await targetProblem('https://8.8.8.8/hook', false), undefined);
  assert.match((await targetProblem('gopher://8.8.8.8/', false)) ?? '', /http and https/);
  assert.match((await targetProblem('http://localhost:8000/hook', false)) ?? '', /loopback or private/);
  assert.equal(await targetProblem('http://localhost:8000/hook', true), undefined);
  assert.match((await targetProblem('http://[::ffff:a9fe:a9fe]/', true)) ?? '', /link-local/);
  assert.match((await targetProblem('http://no-such-host.invalid/', true)) ?? '', /cannot be resolved/);
});

test('the signature header is t=<seconds>,v1=<hmac> per secret, verifiable by a receiver', () => {
  const body = '{"event_id":1}';
  const header = signatureHeader(['new-secret', 'old-secret'], 1_700_000_000, body);
  const expected = (secret: string) => createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
  assert.equal(header, `t=1700000000,v1=${expected('new-secret')},v1=${expected('old-secret')}`);
  assert.equal(verifySignature(header, 'old-secret', body, 300, 1_700_000_100_000), true);
  assert.equal(verifySignature(header, 'other', body, 300, 1_700_000_100_000), false);
  assert.equal(verifySignature(header, 'new-secret', `${body} `, 300, 1_700_000_100_000), false);
  assert.equal(verifySignature(header, 'new-secret', body, 300, 1_700_001_000_000), false, 'too old');
});
