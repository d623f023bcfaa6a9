import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type Doc, type Operation, openApiDocument, operationsOf, schemaCompiler } from '../helpers/openapi.js';
import { type Member, World } from '../helpers/world.js';

/**
 * Every route of the OpenAPI document, fuzzed with fast-check as an anonymous visitor, a member and
 * the admin, with valid and hostile input: wrong types, huge and negative numbers, long ids,
 * unicode, invalid UTF-8, 10 KB strings, deep and huge JSON, wrong content types, duplicate query
 * keys, other methods. Never a 5xx; every error is JSON with `detail` and `code`; every answer
 * comes within 10 s; every 2xx matches the status and the schema the document gives it.
 *
 * FUZZ_RUNS cases (2,000 by default, within FUZZ_BUDGET_S seconds), FUZZ_SEED to replay a run (the
 * seed is printed); `npm run fuzz -- --runs 100000` for the long run. Hand-made hostile requests on
 * every route are test/integration/hostile-requests.test.ts's.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
/**
 * In the suite the run also stops after this many seconds (on a loaded machine fewer cases fit; the
 * ones run are the seed's first, so a replay runs the same ones); 0: no limit (`npm run fuzz`).
 */
const BUDGET_S = Number(process.env.FUZZ_BUDGET_S ?? 50);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4);
/** An answer slower than this counts as a hang. */
const ANSWER_WITHIN_MS = 10_000;

type Role = 'anonymous' | 'member' | 'admin';

/** An id as the case names it: one resolved at run time (an existing row), or literal path text. */
type IdChoice = { ref: 'self' | 'other' | 'admin' | 'endpoint' | 'preference' | 'victim' } | { text: string };

interface Body {
  /** The exact bytes sent; undefined: no body. */
  bytes: Uint8Array | undefined;
  /** How the report shows it. */
  preview: string;
}

interface Case {
  role: Role;
  op: Operation;
  method: string;
  id: IdChoice;
  /** Encoded `key=value` pairs, duplicates and undocumented keys included. */
  query: string[];
  contentType: string | undefined;
  body: Body;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Percent-encodes the UTF-8 of `text` (a lone surrogate becomes U+FFFD, as a browser would send it). */
const pct = (text: string) =>
  Array.from(Buffer.from(text, 'utf8'), (byte) =>
    /[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte))
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).padStart(2, '0')}`,
  ).join('');

const TEN_KB = 'x'.repeat(10_240);

/** Strings a field or a query value should never choke on. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'true',
    'NaN',
    '-0',
    '1e309',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\u202e',
    '🧑‍🤝‍🧑',
    "'; DROP TABLE users; --",
    '%',
    '{"a":1}',
    '9'.repeat(400),
    TEN_KB,
  ),
);

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    0,
    -1,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 + 1,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    1e-320,
    0.5,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value that may stand where a field is expected. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileText },
  { weight: 3, arbitrary: hostileNumber },
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(hostileNumber, { maxLength: 5 }),
);

/** Values the schema accepts (mostly), built from the document's JSON Schema. */
function validOf(schema: any, doc: Doc, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== 'object' || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  if (schema.$ref) {
    const name = String(schema.$ref).split('/').pop()!;
    return validOf(doc.components?.schemas?.[name], doc, depth + 1);
  }
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices) return fc.oneof(...choices.map((s: unknown) => validOf(s, doc, depth + 1)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const type = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (type.length > 1) return fc.oneof(...type.map((t: string) => validOf({ ...schema, type: t }, doc, depth + 1)));
  switch (type[0]) {
    case 'string': {
      if (schema.format === 'date') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === 'email') return fc.emailAddress();
      if (schema.format === 'uri') return fc.webUrl();
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      const length = { minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 60) };
      // Of the right length, but sometimes of characters a database or a renderer may choke on.
      return fc.oneof(
        { weight: 4, arbitrary: fc.string(length) },
        { weight: 1, arbitrary: fc.string({ ...length, unit: 'grapheme' }) },
        {
          weight: 1,
          arbitrary: fc.string({ ...length, unit: fc.constantFrom('a', '\u0000', '\ud800', '\u202e', '\\', "'") }),
        },
      );
    }
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? -(2 ** 31),
        max: Math.min(schema.maximum ?? 2 ** 31 - 1, 2 ** 31 - 1),
      });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: schema.minimum, max: schema.maximum });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validOf(schema.items, doc, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, 4),
      });
    case 'object': {
      const properties: Record<string, any> = schema.properties ?? {};
      const fields = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, validOf(s, doc, depth + 1)]));
      return fc.record(fields, { requiredKeys: (schema.required ?? []).filter((k: string) => k in fields) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** An object of the schema's shape whose fields are sometimes hostile, with extra fields sometimes. */
function looseOf(schema: any, doc: Doc): fc.Arbitrary<unknown> {
  if (schema?.$ref) return looseOf(doc.components?.schemas?.[String(schema.$ref).split('/').pop()!], doc);
  const properties: Record<string, any> = schema?.properties ?? {};
  const fields = Object.fromEntries(
    Object.entries(properties).map(([k, s]) => [
      k,
      fc.oneof({ weight: 2, arbitrary: validOf(s, doc) }, { weight: 1, arbitrary: hostileValue }),
    ]),
  );
  return fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 3 }),
    )
    .map(([known, extra]) => ({ ...extra, ...known }));
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const json = (value: unknown): Body => {
  const text = JSON.stringify(value) ?? 'null';
  return { bytes: utf8(text), preview: text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text };
};
const raw = (text: string, label?: string): Body => ({
  bytes: utf8(text),
  preview: label ?? (text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text),
});

/** Bodies: the schema's own shape (valid or loose), any JSON, deep and huge JSON, bytes that are not UTF-8. */
function bodyOf(op: Operation, doc: Doc): fc.Arbitrary<Body> {
  const schema = op.operation.requestBody?.content?.['application/json']?.schema;
  const shaped = schema
    ? [
        { weight: 6, arbitrary: validOf(schema, doc).map(json) },
        { weight: 6, arbitrary: looseOf(schema, doc).map(json) },
      ]
    : [];
  return fc.oneof(
    ...shaped,
    { weight: 3, arbitrary: fc.constant<Body>({ bytes: undefined, preview: '(none)' }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(json) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{}', '"x"', '0', '{"a":', '\u0000').map((t) => raw(t)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 10, max: 30_000 }), fc.constantFrom('[]', '{}'))
        .map(([depth, kind]) =>
          kind === '[]'
            ? raw(`${'['.repeat(depth)}${']'.repeat(depth)}`, `[ nested ${depth} deep`)
            : raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, `{"a": nested ${depth} deep`),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(30_000, 65_000, 70_000, 300_000)
        .chain((n) =>
          fc.constantFrom(
            raw(JSON.stringify({ bio: 'x'.repeat(n), users: [1], sids: ['a'] }), `{"bio": ${n} × x}`),
            raw(JSON.stringify({ users: Array.from({ length: n / 2 }, () => 1) }), `{"users": [1 × ${n / 2}]}`),
            raw(`{${Array.from({ length: n / 8 }, (_, i) => `"k${i}":1`).join(',')}}`, `{${n / 8} keys}`),
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.constantFrom(
            Uint8Array.from([0x7b, 0x22, 0x62, 0x69, 0x6f, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), // {"bio":"\xC3("}
            Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // {"\xFF\xFE":1}
            Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // BOM + {}
            Uint8Array.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), // UTF-16LE {}
          ),
        )
        .map((bytes) => ({ bytes, preview: `bytes ${Buffer.from(bytes).toString('hex').slice(0, 80)}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(fc.constantFrom('username', 'users', 'bio', 'a', 'grant_type'), hostileText), { maxLength: 4 })
        .map((pairs) => raw(pairs.map(([k, v]) => `${k}=${pct(v)}`).join('&'))),
    },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'text/plain',
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/octet-stream',
  '*/*',
  'a/b/c',
  ';',
  'application/json, text/plain',
];

const contentTypeOf = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
);

/** What stands in the path where `{id}` is. */
const idOf: fc.Arbitrary<IdChoice> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('self', 'other', 'admin', 'endpoint', 'preference', 'victim').map((ref) => ({ ref })),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          '0',
          '-1',
          '00',
          '007',
          '2147483647',
          '2147483648',
          '9007199254740993',
          '1e3',
          '0x10',
          '+1',
          '1.0',
          'me',
          'null',
          'undefined',
          'NaN',
          '%00',
          '%FF',
          '%C0%80',
          '%ED%A0%80',
          '%2F',
          '%2e%2e',
          '%20',
          '1%20',
          '%',
          '%zz',
          '%E2%80%AE1',
        ),
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
        fc.integer({ min: 1, max: 400 }).map((n) => '9'.repeat(n)),
      )
      .map((text) => ({ text })),
  },
  { weight: 1, arbitrary: hostileText.filter((t) => t !== '').map((t) => ({ text: pct(t) })) },
);

/** A value for a query parameter: the schema's own (mostly) or a hostile one, percent-encoded. */
function queryValueOf(schema: any, doc: Doc): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: validOf(schema, doc).map((v) => pct(String(v))) },
    { weight: 2, arbitrary: fc.oneof(hostileText, hostileNumber.map(String)).map(pct) },
    { weight: 1, arbitrary: fc.constantFrom('%FF', '%C0%80', '%', '%zz', '%00', 'a%26b', '%E2%82') },
  );
}

/** The query string's pairs: documented keys (sometimes twice), and undocumented ones. */
function queryOf(op: Operation, doc: Doc): fc.Arbitrary<string[]> {
  const params: any[] = (op.operation.parameters ?? []).filter((p: any) => p.in === 'query');
  const documented = params.map((p) =>
    fc
      .option(fc.array(queryValueOf(p.schema, doc), { minLength: 1, maxLength: 3 }), { freq: 2 })
      .map((values) => (values ?? []).map((v) => `${pct(p.name)}=${v}`)),
  );
  const extra = fc.array(
    fc
      .tuple(
        fc.constantFrom('id', 'limit', 'offset', 'format', '__proto__', 'constructor', 'a[b]', 'a', ''),
        hostileText,
      )
      .map(([k, v]) => `${pct(k)}=${pct(v)}`),
    { maxLength: 2 },
  );
  return fc.tuple(fc.tuple(...documented), extra, fc.boolean()).map(([lists, more, shuffle]) => {
    const pairs = [...lists.flat(), ...more];
    return shuffle ? pairs.reverse() : pairs;
  });
}

/** One request: a role, an operation (sometimes with another method), its id, query, content type and body. */
function caseOf(doc: Doc): fc.Arbitrary<Case> {
  const operations = operationsOf(doc);
  return fc.constantFrom(...operations).chain((op) =>
    fc.record({
      role: fc.constantFrom<Role>('anonymous', 'member', 'admin'),
      op: fc.constant(op),
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant(op.method.toUpperCase()) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
      ),
      id: idOf,
      query: queryOf(op, doc),
      contentType: contentTypeOf,
      body: bodyOf(op, doc),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Running a case and judging its answer

let world: World;
let doc: Doc;
let member: Member;
let other: Member;
let adminToken: string;
let endpointId: number;
let compile: ReturnType<typeof schemaCompiler>['compile'];

before(async () => {
  world = await World.start();
  doc = await openApiDocument(world);
  compile = schemaCompiler(doc).compile;
  member = await world.user();
  other = await world.user();
  adminToken = await world.adminToken();
  const endpoint = await world.request('POST', '/api/v2/webhook/endpoint/', {
    token: adminToken,
    body: { target: 'http://127.0.0.1:9/hook', events: [{ type: 'connection.created' }] },
  });
  assert.equal(endpoint.status, 201, endpoint.text);
  endpointId = endpoint.body.id;
});
after(() => world.close());

async function pathOf(c: Case): Promise<string> {
  if (!c.op.path.includes('{id}')) return c.op.path;
  let id: string;
  if ('text' in c.id) id = c.id.text;
  else {
    const ref = c.id.ref;
    // The members a case acts as are never deleted: a delete aims at a member made for it.
    const deleting = c.method === 'DELETE' && c.op.path === '/api/v2/user/{id}/';
    if (ref === 'victim' || (deleting && (ref === 'self' || ref === 'other'))) id = String((await world.user()).id);
    else if (ref === 'self') id = String(c.role === 'admin' ? 1 : member.id);
    else if (ref === 'other') id = String(other.id);
    else if (ref === 'admin') id = '1';
    else if (ref === 'endpoint') id = String(endpointId);
    else id = '1';
  }
  return c.op.path.replace('{id}', id);
}

const tokenOf = (role: Role) => (role === 'member' ? member.token : role === 'admin' ? adminToken : undefined);

/** What is wrong with the answer to `c` (empty when all is well). */
async function judge(c: Case): Promise<{ label: string; status: number; problems: string[] }> {
  const path = await pathOf(c);
  const url = `${path}${c.query.length > 0 ? `?${c.query.join('&')}` : ''}`;
  const label = `${c.role} ${c.method} ${url.length > 300 ? `${url.slice(0, 300)}…` : url} [${c.contentType ?? 'no content type'}] ${c.body.preview}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = tokenOf(c.role);
  if (token) headers.authorization = `Bearer ${token}`;
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  const bodyAllowed = c.method !== 'GET' && c.method !== 'HEAD';
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${world.baseUrl}${url}`, {
      method: c.method,
      headers,
      body: bodyAllowed && c.body.bytes ? new Blob([c.body.bytes as Uint8Array<ArrayBuffer>]) : undefined,
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    text = await response.text();
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${ANSWER_WITHIN_MS} ms` : String(error);
    return { label, status: 0, problems: [reason] };
  }
  const problems: string[] = [];
  const { status } = response;
  const type = response.headers.get('content-type') ?? '';
  if (status >= 500) problems.push(`status ${status}: ${text.slice(0, 200)}`);
  if (status >= 400 && c.method !== 'HEAD') {
    let body: any;
    try {
      body = type.includes('application/json') ? JSON.parse(text) : undefined;
    } catch {}
    if (typeof body?.detail !== 'string' || typeof body?.code !== 'string' || body.code === '') {
      problems.push(`error ${status} without {detail, code} (${type}): ${text.slice(0, 200)}`);
    }
  }
  // A path with a dot segment ("." or "%2e%2e" where the id goes) is another path once the URL is
  // parsed (fetch, like every client, removes dot segments): its answer is that route's, not this one's.
  const sameRoute = !/\/(?:\.|%2e){1,2}(?:\/|$)/i.test(url.split('?')[0] ?? '');
  if (status >= 200 && status < 300 && c.method === c.op.method.toUpperCase() && sameRoute) {
    const documented = c.op.operation.responses?.[String(status)];
    if (!documented) problems.push(`status ${status} is not documented`);
    else {
      const schema = documented.content?.['application/json']?.schema;
      if (schema) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          problems.push(`${status} body is not JSON: ${text.slice(0, 200)}`);
        }
        const validate = compile(schema);
        if (body !== undefined && !validate(body)) {
          problems.push(`${status} body does not match its schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
        }
      } else if (text !== '') problems.push(`${status} has a body its document does not give: ${text.slice(0, 200)}`);
    }
  }
  return { label, status, problems };
}

/** Cases are drawn in chunks (chunk k from seed + k), so a long run never holds them all in memory. */
const CHUNK = 500;

/** Runs `runs` cases drawn from `seed`, `CONCURRENCY` in flight; the problems found, and the count of each status. */
async function runAll(runs: number, seed: number) {
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const stopAt = BUDGET_S > 0 ? Date.now() + BUDGET_S * 1000 : Number.POSITIVE_INFINITY;
  let ran = 0;
  for (let chunk = 0; chunk * CHUNK < runs; chunk++) {
    const cases = fc.sample(caseOf(doc), { numRuns: Math.min(CHUNK, runs - chunk * CHUNK), seed: seed + chunk });
    let next = 0;
    const lane = async () => {
      while (next < cases.length && Date.now() < stopAt) {
        const i = next++;
        ran++;
        const { label, status, problems } = await judge(cases[i]!);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        for (const p of problems) failures.push(`#${chunk * CHUNK + i} ${label}\n    → ${p}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  }
  return { failures, statuses, ran };
}

describe('fuzzing every route of the OpenAPI document', () => {
  test(`${RUNS} random requests (seed ${SEED}): no 5xx, errors in {detail, code}, 2xx as documented`, async (t) => {
    const replay = `FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} node --import tsx --test test/integration/fuzz.test.ts`;
    t.diagnostic(`seed ${SEED}; replay with ${replay}`);
    console.log(`fuzz: ${RUNS} cases, seed ${SEED} (replay: ${replay})`);
    const { failures, statuses, ran } = await runAll(RUNS, SEED);
    const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    t.diagnostic(`${ran} of ${RUNS} cases run (budget ${BUDGET_S || 'none'} s); statuses ${summary.join(', ')}`);
    assert.ok(ran >= Math.min(RUNS, 300), `only ${ran} cases ran within the budget`);
    // The fuzz reaches past the gate: answers from the services, not only 401/403/400.
    assert.ok(
      [200, 201, 204].some((s) => (statuses.get(s) ?? 0) > 0),
      `no 2xx at all: ${summary}`,
    );
    assert.ok((statuses.get(404) ?? 0) > 0, `no 404 at all: ${summary}`);
    assert.equal(
      failures.length,
      0,
      `${failures.length} problems (seed ${SEED}; replay: ${replay}):\n${failures.slice(0, 25).join('\n')}`,
    );
  });
});
