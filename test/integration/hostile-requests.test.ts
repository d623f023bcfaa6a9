import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Doc, nameOf, type Operation, openApiDocument, operationsOf } from '../helpers/openapi.js';
import { rawExchange, rawRequest } from '../helpers/socket.js';
import { type Member, World } from '../helpers/world.js';

/**
 * Hand-made hostile requests on every route of the OpenAPI document (the random ones are
 * fuzz.test.ts's): invalid UTF-8 and raw bytes in the path, every query parameter twice, wrong
 * content types, deep and huge JSON. Always a 4xx JSON `{detail, code}`, never a 5xx or a reset.
 */

let world: World;
let doc: Doc;
let member: Member;
let adminToken: string;
before(async () => {
  world = await World.start();
  doc = await openApiDocument(world);
  member = await world.user();
  adminToken = await world.adminToken();
});
after(() => world.close());

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

describe('hand-made hostile requests on every route', () => {
  /** Each operation's path with a real id in it. */
  const concrete = (op: Operation) => op.path.replace('{id}', String(member.id));

  test('invalid UTF-8 and odd bytes in the path, raw on the socket: 4xx JSON', async () => {
    const problems: string[] = [];
    for (const op of operationsOf(doc)) {
      const path = concrete(op);
      for (const [label, target] of [
        ['percent-encoded invalid UTF-8', `${path}%FF%FE/`],
        ['an overlong NUL', `${path}%C0%80`],
        ['a lone surrogate', `${path.replace(/\/$/, '')}%ED%A0%80/`],
        ['a broken escape', `${path}%zz`],
        ['invalid UTF-8 in the query', `${path}?limit=%FF&search=%C3%28`],
        ['raw bytes above 0x7f', Buffer.concat([Buffer.from(path), Buffer.from([0xff, 0xc3, 0x28])])],
      ] as const) {
        const answer = await rawRequest(world.baseUrl, {
          method: op.method.toUpperCase(),
          target,
          headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
          body: op.method === 'get' ? undefined : '{}',
        });
        if (answer.status === 0 || answer.status >= 500) problems.push(`${nameOf(op)} ${label}: ${answer.head}`);
        else if (
          answer.status >= 400 &&
          !(typeof answer.json?.detail === 'string' && typeof answer.json?.code === 'string')
        ) {
          problems.push(`${nameOf(op)} ${label}: ${answer.status} ${answer.body.slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every documented query parameter twice, with agreeing and disagreeing values: never a 5xx', async () => {
    const problems: string[] = [];
    for (const op of operationsOf(doc).filter((o) => o.method === 'get')) {
      for (const param of (op.operation.parameters ?? []).filter((p: any) => p.in === 'query')) {
        for (const values of [
          ['1', '2'],
          ['1', 'x'],
          ['', ''],
        ]) {
          const query = values.map((v) => `${param.name}=${v}`).join('&');
          for (const token of [undefined, adminToken]) {
            const r = await world.request('GET', `${concrete(op)}?${query}`, { token });
            if (r.status >= 500 || (r.status >= 400 && (typeof r.body?.detail !== 'string' || !r.body?.code))) {
              problems.push(`${nameOf(op)}?${query}: ${r.status} ${r.text.slice(0, 200)}`);
            }
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every body route with wrong content types, deep JSON and huge JSON: 4xx JSON', async () => {
    const problems: string[] = [];
    const bodies: Array<[string, string | undefined, string]> = [
      ['text/plain', 'text/plain', '{"a":1}'],
      ['XML', 'application/xml', '<a/>'],
      [
        'multipart',
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
      ],
      ['no content type', undefined, '{"a":1}'],
      ['JSON in UTF-16', 'application/json; charset=utf-16', '{"a":1}'],
      ['arrays 30,000 deep', 'application/json', `${'['.repeat(30_000)}${']'.repeat(30_000)}`],
      ['objects 10,000 deep', 'application/json', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`],
      ['arrays 100,000 deep (over the body limit)', 'application/json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
      ['a 1 MiB string', 'application/json', JSON.stringify({ bio: 'x'.repeat(1 << 20) })],
      ['5,000 keys', 'application/json', `{${Array.from({ length: 5000 }, (_, i) => `"k${i}":1`).join(',')}}`],
      ['duplicate keys', 'application/json', '{"users":[1],"users":"x","bio":1,"bio":"b"}'],
    ];
    for (const op of operationsOf(doc).filter((o) => o.operation.requestBody)) {
      for (const [label, contentType, body] of bodies) {
        // The admin passes every gate, so the body reaches every route's parser and schema.
        for (const token of [adminToken]) {
          // Bytes, so that fetch adds no content type of its own.
          const response = await fetch(`${world.baseUrl}${concrete(op)}`, {
            method: op.method.toUpperCase(),
            headers: { authorization: `Bearer ${token}`, ...(contentType && { 'content-type': contentType }) },
            body: new Blob([utf8(body) as Uint8Array<ArrayBuffer>]),
          }).catch((error: Error) => error);
          if (response instanceof Error) {
            problems.push(`${nameOf(op)} ${label}: ${response.message} (${String(response.cause)})`);
            continue;
          }
          const text = await response.text();
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {}
          const shaped = typeof parsed?.detail === 'string' && typeof parsed?.code === 'string';
          if (response.status >= 500 || (response.status >= 400 && !shaped)) {
            problems.push(`${nameOf(op)} ${label}: ${response.status} ${text.slice(0, 200)}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('malformed HTTP, byte for byte: a 4xx answer in the JSON error shape', async () => {
    const path = `/api/v2/user/${member.id}/`;
    const host = `Host: ${new URL(world.baseUrl).host}\r\n`;
    const cases: Array<[string, string, number]> = [
      ['no Host header (HTTP/1.1)', `GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`, 400],
      [
        'an Expect other than 100-continue',
        `POST ${path} HTTP/1.1\r\n${host}Expect: 100-banana\r\nContent-Length: 2\r\n\r\n{}`,
        417,
      ],
      [
        'Transfer-Encoding and Content-Length',
        `POST ${path} HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        400,
      ],
      ['two Content-Lengths', `POST ${path} HTTP/1.1\r\n${host}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x`, 400],
      [
        'a chunk size that is not hex',
        `POST ${path} HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`,
        400,
      ],
      ['an unknown method', `FOO ${path} HTTP/1.1\r\n${host}\r\n`, 400],
      ['a NUL in the path', `GET ${path}\x00/ HTTP/1.1\r\n${host}\r\n`, 400],
      ['a 20 KB header', `GET ${path} HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ];
    const problems: string[] = [];
    for (const [label, bytes, status] of cases) {
      const answer = await rawExchange(world.baseUrl, bytes);
      const shaped = typeof answer.json?.detail === 'string' && typeof answer.json?.code === 'string';
      if (answer.status !== status || !shaped) problems.push(`${label}: ${answer.head} ${answer.body.slice(0, 200)}`);
    }
    assert.deepEqual(problems, []);
    // HTTP/1.0 needs no Host: the same request is answered.
    const old = await rawExchange(world.baseUrl, `GET ${path} HTTP/1.0\r\n\r\n`);
    assert.match(old.head, /^HTTP\/1\.1 200 /);
  });

  test('an integer field given as a string beyond any number ("1e309"): 400 naming the field', async () => {
    const problems: string[] = [];
    for (const [path, body, field] of [
      ['/api/v2/user/connection/statuses/', { users: ['1e309'] }, 'users'],
      ['/api/v2/user/connection/statuses/', { users: '-1e309' }, 'users'],
      ['/api/v2/sso/signup/', { username: `u${Date.now()}`, tags: ['1e309'] }, 'tags'],
      ['/api/v2/webhook/endpoint/1/event/resend/', { event: '1e309' }, 'event'],
      ['/api/v2/webhook/endpoint/1/event/resend/bulk/', { event: ['1e309'] }, 'event'],
    ] as const) {
      const r = await world.post(path, adminToken, body);
      if (r.status !== 400 || !(field in (r.body?.errors ?? {})))
        problems.push(`${path} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    }
    assert.deepEqual(problems, []);
  });
});
