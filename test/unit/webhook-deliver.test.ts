import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DeliveryRequest, deliver, type Resolve } from '../../src/webhooks/deliver.js';
import { targetProblem } from '../../src/webhooks/targets.js';
import { Receiver } from '../helpers/receiver.js';

// Real HTTP on loopback, no database: what one exchange does with receivers that misbehave, and
// every SSRF vector of the Standard Webhooks list, at registration and again at delivery.

let receiver: Receiver;
let elsewhere: Receiver;
before(async () => {
  receiver = await Receiver.start();
  elsewhere = await Receiver.start();
});
after(async () => {
  await receiver.stop();
  await elsewhere.stop();
});

const request = (overrides: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  target: receiver.url,
  body: '{"event_id":1}',
  signature: 't=1,v1=00',
  sslVerify: true,
  allowPrivate: true,
  timeoutMs: 2000,
  ...overrides,
});

test('a receiver that never answers, or sends its body a byte a second, is cut at the timeout', async () => {
  for (const behaviour of ['hang', 'trickle'] as const) {
    receiver.behaviour = behaviour;
    const outcome = await deliver(request({ timeoutMs: 500 }));
    assert.deepEqual(
      outcome,
      { ok: false, status: null, responseBody: '', error: 'timed out after 500 ms' },
      behaviour,
    );
  }
});

test('a receiver that streams a body forever is read for 16 KiB, then cut', async () => {
  receiver.behaviour = 'stream';
  // The timeout is far away: the bounded read, not the clock, ends this exchange.
  const outcome = await deliver(request({ timeoutMs: 600_000 }));
  assert.equal(outcome.status, 200);
  assert.equal(outcome.responseBody, 'x'.repeat(2000), 'what is stored is bounded too');
});

test('a redirect is a failure and is not followed', async () => {
  receiver.behaviour = 'redirect';
  const before = elsewhere.received.length;
  const outcome = await deliver(request());
  assert.deepEqual([outcome.ok, outcome.status, outcome.error], [false, 302, 'answered 302']);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(elsewhere.received.length, before, 'the redirect target was never called');
  receiver.behaviour = 'ok';
});

/** Every form of a forbidden target an attacker may try; each must be refused when private targets are not allowed. */
const VECTORS: Array<[string, string]> = [
  ['loopback v4', 'http://127.0.0.1/hook'],
  ['loopback v4, elsewhere in 127/8', 'http://127.53.1.2/hook'],
  ['loopback v4, short form', 'http://127.1/hook'],
  ['loopback v4, decimal', 'http://2130706433/hook'],
  ['loopback v4, hex', 'http://0x7f000001/hook'],
  ['loopback v4, hex parts', 'http://0x7f.0.0.1/hook'],
  ['loopback v4, octal', 'http://0177.0.0.1/hook'],
  ['loopback v4, octal whole', 'http://017700000001/hook'],
  ['loopback v4, trailing dot', 'http://127.0.0.1./hook'],
  ['loopback v4, full-width digits', 'http://①②⑦.0.0.1/hook'],
  ['loopback v6', 'http://[::1]/hook'],
  ['loopback v6, long form', 'http://[0:0:0:0:0:0:0:1]/hook'],
  ['unspecified v4', 'http://0.0.0.0/hook'],
  ['unspecified v4, short', 'http://0/hook'],
  ['unspecified v6', 'http://[::]/hook'],
  ['RFC 1918 10/8', 'http://10.0.0.1/hook'],
  ['RFC 1918 10/8, hex', 'http://0x0a.0.0.1/hook'],
  ['RFC 1918 172.16/12', 'http://172.16.5.4/hook'],
  ['RFC 1918 172.16/12, top', 'http://172.31.255.255/hook'],
  ['RFC 1918 192.168/16', 'http://192.168.0.1/hook'],
  ['RFC 1918 192.168/16, decimal', 'http://3232235521/hook'],
  ['carrier-grade NAT', 'http://100.64.0.1/hook'],
  ['link-local v4 (cloud metadata)', 'http://169.254.169.254/latest/meta-data/'],
  ['link-local v6', 'http://[fe80::1]/hook'],
  ['unique local fc00::/7', 'http://[fc00::1]/hook'],
  ['unique local fd00::/8', 'http://[fd12:3456:789a::1]/hook'],
  ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook'],
  ['IPv4-mapped private', 'http://[::ffff:10.0.0.1]/hook'],
  ['IPv4-mapped metadata', 'http://[::ffff:169.254.169.254]/hook'],
  ['IPv4-mapped, hex groups', 'http://[::ffff:7f00:1]/hook'],
  ['IPv4-translated', 'http://[::ffff:0:127.0.0.1]/hook'],
  ['IPv4-compatible', 'http://[::127.0.0.1]/hook'],
  ['NAT64', 'http://[64:ff9b::a00:1]/hook'],
  ['6to4', 'http://[2002:a00:1::]/hook'],
  ['Teredo', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook'],
  ['userinfo: public-looking user, loopback host', 'http://8.8.8.8@127.0.0.1/hook'],
  ['userinfo: loopback user, public host', 'http://127.0.0.1:80@8.8.8.8/hook'],
  ['userinfo: user and password', 'http://user:pass@8.8.8.8/hook'],
  ['fragment trick', 'http://127.0.0.1#@8.8.8.8/hook'],
  ['backslash trick', 'http://127.0.0.1\\@8.8.8.8/hook'],
  ['name resolving to loopback', 'http://localhost/hook'],
  ['name resolving to loopback, trailing dot', 'http://localhost./hook'],
  ['name resolving to loopback, capitals', 'http://LOCALHOST/hook'],
  ['another scheme', 'file:///etc/passwd'],
  ['another scheme, gopher', 'gopher://127.0.0.1:6379/_INFO'],
];

test('every SSRF vector is refused at registration', async () => {
  for (const [name, target] of VECTORS) {
    const problem = await targetProblem(target, false);
    assert.ok(problem !== undefined, `${name}: ${target} was accepted`);
  }
  assert.equal(await targetProblem('http://8.8.8.8/hook', false), undefined, 'a public address is accepted');
});

test('every SSRF vector is refused again at delivery, before any connection', async () => {
  for (const [name, target] of VECTORS) {
    const outcome = await deliver(request({ target, allowPrivate: false }));
    assert.equal(outcome.ok, false, name);
    // A name the resolver here does not know (localhost.) fails at lookup, which is a refusal too.
    const refused = target.includes('localhost') ? /not allowed|ENOTFOUND/ : /not allowed/;
    assert.match(outcome.error ?? '', refused, `${name}: ${target} → ${outcome.error}`);
  }
});

/** A resolver the test controls: a name's addresses at delivery time, whatever they were at registration. */
const resolver =
  (answers: Record<string, string[]>): Resolve =>
  (hostname, _options, callback) => {
    const addresses = answers[hostname];
    if (!addresses) return callback(Object.assign(new Error(`${hostname}: ENOTFOUND`), { code: 'ENOTFOUND' }), []);
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };

test('a name that resolves to a private address at delivery time is refused (DNS rebinding)', async () => {
  const port = receiver.port;
  receiver.behaviour = 'ok';
  const before = receiver.received.length;
  const cases: Array<[string, string[]]> = [
    ['rebound to loopback', ['127.0.0.1']],
    ['rebound to a private network', ['10.1.2.3']],
    ['rebound to the metadata address', ['169.254.169.254']],
    ['rebound to IPv6 loopback', ['::1']],
    ['rebound to IPv4-mapped loopback', ['::ffff:127.0.0.1']],
    ['one public, one private address', ['93.184.216.34', '127.0.0.1']],
  ];
  for (const [name, addresses] of cases) {
    const outcome = await deliver(
      request({
        target: `http://hooks.example.test:${port}/hook`,
        allowPrivate: false,
        resolve: resolver({ 'hooks.example.test': addresses }),
      }),
    );
    assert.equal(outcome.ok, false, name);
    assert.match(outcome.error ?? '', /not allowed: hooks\.example\.test resolves to/, name);
  }
  assert.equal(receiver.received.length, before, 'nothing reached the receiver');
  // The seam is the address connected to: allowed, the same name reaches the receiver on loopback.
  const allowed = await deliver(
    request({
      target: `http://hooks.example.test:${port}/hook`,
      resolve: resolver({ 'hooks.example.test': ['127.0.0.1'] }),
    }),
  );
  assert.deepEqual([allowed.ok, allowed.status], [true, 200]);
  assert.equal(receiver.received.length, before + 1);
});

test('a refusal before the request starts settles at once (the timer exists before it is cleared)', async () => {
  const outcome = await deliver(request({ target: 'not a url' }));
  assert.deepEqual(outcome, { ok: false, status: null, responseBody: '', error: 'invalid target URL' });
});
