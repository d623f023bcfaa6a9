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
    // IPv4 carried in IPv6: judged by the IPv4 address it reaches.
    ['::ffff:7f00:1', true, false], // mapped 127.0.0.1, as URL parsing writes it
    ['::ffff:0:127.0.0.1', true, false], // translated
    ['::ffff:0:7f00:1', true, false],
    ['::127.0.0.1', true, false], // compatible
    ['::7f00:1', true, false],
    ['64:ff9b::a00:1', true, false], // NAT64 of 10.0.0.1
    ['64:ff9b::a9fe:a9fe', true, true], // NAT64 of 169.254.169.254
    ['64:ff9b::808:808', false, false], // NAT64 of 8.8.8.8
    ['64:ff9b:1::1', true, false], // local-use NAT64
    ['2002:a00:1::', true, false], // 6to4 of 10.0.0.1
    ['2002:a9fe:a9fe::1', true, true], // 6to4 of 169.254.169.254
    ['2002:808:808::', false, false], // 6to4 of 8.8.8.8
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', true, false], // Teredo of 127.0.0.1
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
  // The forms an attacker found accepted, as URLs (which normalize them).
  for (const host of ['[::ffff:0:127.0.0.1]', '[::127.0.0.1]', '[64:ff9b::a00:1]', '[2002:a00:1::]']) {
    assert.match((await targetProblem(`http://${host}/hook`, false)) ?? '', /loopback or private/, host);
  }
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
