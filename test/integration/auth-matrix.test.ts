import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Doc, nameOf, type Operation, openApiDocument, operationsOf } from '../helpers/openapi.js';
import { SocketClient } from '../helpers/socket.js';
import { type Member, World } from '../helpers/world.js';

/**
 * The auth matrix: every operation of the OpenAPI document × every role × every target, in both
 * community modes, against the table below — who may call what, as README's endpoint table says.
 * An operation the document lists without a row fails the test (and a row the document no longer
 * lists), so the table stays complete: a new route is one line here.
 *
 * A row: who may call it, then the mode its page requires, if any:
 * - none: the route reads no token (a deactivated member's token is not even looked at);
 * - optional / public: anyone; a token is used when sent (public: required in a closed community);
 * - member: a signed-in, active member; self-or-admin: the member named by the path, or an admin;
 * - admin: the admin role;
 * - friendship / follow: the community must be in that mode (403 otherwise, for everyone).
 */
const TABLE: Record<string, string> = {
  'GET /healthz': 'none',
  'GET /readyz': 'none',
  'POST /oauth/token/': 'none',
  'GET /api/v2/user/me/': 'member',
  'GET /api/v2/user/': 'member',
  'GET /api/v2/user/{id}/': 'public',
  'PATCH /api/v2/user/{id}/': 'self-or-admin',
  'DELETE /api/v2/user/{id}/': 'admin',
  'GET /api/v2/user/{id}/counters/': 'public',
  'POST /api/v2/sso/signup/': 'admin',
  'POST /api/v2/account/create/': 'admin',
  'POST /api/v2/user/{id}/connection/request/': 'member friendship',
  'POST /api/v2/user/{id}/connection/accept/': 'member friendship',
  'POST /api/v2/user/{id}/connection/reject/': 'member friendship',
  'POST /api/v2/user/{id}/connection/cancel_request/': 'member friendship',
  'POST /api/v2/user/{id}/connection/cancel_reject/': 'member friendship',
  'POST /api/v2/user/{id}/connection/remove/': 'member friendship',
  'POST /api/v2/user/{id}/connection_requests/mark_seen/': 'member',
  'GET /api/v2/user/connection/requests/': 'member friendship',
  'GET /api/v2/user/connection_requests/': 'member friendship',
  'GET /api/v2/user/connection/requests_sent/': 'member friendship',
  'GET /api/v2/user/{id}/connections/': 'public friendship',
  'GET /api/v2/user/{id}/is_connection/': 'member',
  'GET /api/v2/user/{id}/connection_status/': 'member',
  'POST /api/v2/user/connection/statuses/': 'member',
  'POST /api/v2/user/{id}/follow/': 'member follow',
  'GET /api/v2/user/{id}/followers/': 'public follow',
  'GET /api/v2/user/{id}/followings/': 'public follow',
  'GET /api/v2/user/{id}/is_followed/': 'member follow',
  'GET /api/v2/user/{id}/is_follower/': 'member follow',
  'GET /api/v2/dynamic_preference/': 'optional',
  'PATCH /api/v2/dynamic_preference/': 'admin',
  'GET /api/v2/dynamic_preference/search/': 'optional',
  'GET /api/v2/dynamic_preference/{id}/': 'optional',
  'GET /api/v2/feature/': 'optional',
  'GET /api/v2/user/hidden_users_id/': 'member',
  'GET /api/v2/user/hidden_users/': 'member',
  'POST /api/v2/user/{id}/hide/': 'member',
  'GET /api/v2/user/{id}/is_hidden/': 'member',
  'GET /api/v2/user/{id}/is_hidden_by/': 'member',
  'GET /api/v2/user/{id}/settings/': 'self-or-admin',
  'PATCH /api/v2/user/{id}/settings/': 'self-or-admin',
  'GET /api/v2/notification/': 'member',
  'GET /api/v2/notification/unseen/count/': 'member',
  'POST /api/v2/notification/read/': 'member',
  'POST /api/v2/webhook/endpoint/': 'admin',
  'GET /api/v2/webhook/endpoint/': 'admin',
  'GET /api/v2/webhook/endpoint/search/': 'admin',
  'GET /api/v2/webhook/endpoint/event/': 'admin',
  'GET /api/v2/webhook/endpoint/{id}/': 'admin',
  'PUT /api/v2/webhook/endpoint/{id}/': 'admin',
  'PATCH /api/v2/webhook/endpoint/{id}/': 'admin',
  'DELETE /api/v2/webhook/endpoint/{id}/': 'admin',
  'POST /api/v2/webhook/endpoint/{id}/secret/reveal/': 'admin',
  'POST /api/v2/webhook/endpoint/{id}/secret/expire/': 'admin',
  'GET /api/v2/webhook/endpoint/{id}/attempt/': 'admin',
  'POST /api/v2/webhook/endpoint/{id}/event/resend/': 'admin',
  'POST /api/v2/webhook/endpoint/{id}/event/resend/bulk/': 'admin',
  'GET /api/v2/moderation/user/': 'admin',
  'GET /api/v2/user/search/': 'public',
  'GET /api/v2/user/autocomplete/': 'member',
  'POST /api/v2/user/match/': 'member',
  'GET /api/v2/suggestion/user/': 'member',
  'PATCH /api/v2/moderation/user/{id}/': 'admin',
};

const ROLES = ['anonymous', 'member', 'other member', 'admin', 'deactivated'] as const;
type Role = (typeof ROLES)[number];
const TARGETS = ['self', 'other', 'admin'] as const;
type Target = (typeof TARGETS)[number];
type Mode = 'friendship' | 'follow';
/** What a cell must answer: a 401, a 403, or past the gate (2xx, or the action's own 400/404). */
type Outcome = '401' | '403' | 'pass';

const WHO = ['none', 'optional', 'public', 'member', 'self-or-admin', 'admin'] as const;

/** The outcome the table gives a role on a target, in a mode. */
function expected(row: string, role: Role, target: Target | undefined, mode: Mode): Outcome {
  const [who, needs] = row.split(' ') as [(typeof WHO)[number], Mode | undefined];
  if (who === 'none') return 'pass';
  const signedIn = role !== 'anonymous';
  if (role === 'deactivated') return '401';
  if (!signedIn && who !== 'optional' && who !== 'public') return '401';
  if (who === 'admin' && role !== 'admin') return '403';
  if (needs && needs !== mode) return '403';
  if (who === 'self-or-admin' && role !== 'admin' && target !== 'self') return '403';
  return 'pass';
}

const outcomeOf = (status: number): Outcome | string =>
  status === 401
    ? '401'
    : status === 403
      ? '403'
      : [200, 201, 204, 400, 404].includes(status)
        ? 'pass'
        : String(status);

let world: World;
let doc: Doc;
let adminToken: string;
let shared: { member: Member; other: Member; deactivated: Member };
let preferenceId: number;

/** Two active members and one deactivated after its token was issued. */
async function actors() {
  const member = await world.user();
  const other = await world.user();
  const deactivated = await world.user();
  await world.db.updateTable('users').set({ is_active: false }).where('id', '=', deactivated.id).execute();
  return { member, other, deactivated };
}

before(async () => {
  world = await World.start();
  doc = await openApiDocument(world);
  adminToken = await world.adminToken();
  shared = await actors();
  const preferences = await world.get('/api/v2/dynamic_preference/');
  preferenceId = preferences.body.results[0].id;
});
after(() => world.close());

async function setMode(mode: Mode) {
  await world.setPreferences({ follow_enabled: mode === 'follow', content_availability: true });
}

/** Asks one cell: `role` calls `op` on `target` (the path's id), with the document's example body. */
async function ask(op: Operation, role: Role, target: Target | undefined, people: typeof shared) {
  const tokens: Record<Role, string | undefined> = {
    anonymous: undefined,
    member: people.member.token,
    'other member': people.other.token,
    admin: adminToken,
    deactivated: people.deactivated.token,
  };
  const selfOf: Record<Role, number> = {
    anonymous: people.member.id,
    member: people.member.id,
    'other member': people.other.id,
    admin: 1,
    deactivated: people.deactivated.id,
  };
  let id: number;
  if (op.path.startsWith('/api/v2/webhook/endpoint/{id}')) {
    const made = await world.request('POST', '/api/v2/webhook/endpoint/', {
      token: adminToken,
      body: { target: 'http://127.0.0.1:9/hook', events: [{ type: 'connection.created' }] },
    });
    id = made.body.id;
  } else if (op.path.startsWith('/api/v2/dynamic_preference/{id}')) id = preferenceId;
  else if (target === 'self') id = selfOf[role];
  else if (target === 'other') id = role === 'member' ? people.other.id : people.member.id;
  else id = 1;
  const example = op.operation.requestBody?.content?.['application/json']?.example;
  // The examples' bodies; an empty one where there is none, as SelfCommunity's SDK sends its actions.
  const body = example !== undefined ? { body: example } : { headers: { 'content-type': 'application/json' }, raw: '' };
  return world.request(op.method.toUpperCase(), op.path.replace('{id}', String(id)), {
    token: tokens[role] ?? null,
    ...(op.method === 'get' ? {} : body),
  });
}

describe('the auth matrix', () => {
  test('the table names every operation of the document, and nothing else', () => {
    const names = operationsOf(doc).map(nameOf);
    assert.deepEqual(
      names.filter((n) => !(n in TABLE)),
      [],
      'operations without a row in the auth matrix: add one',
    );
    assert.deepEqual(
      Object.keys(TABLE).filter((n) => !names.includes(n)),
      [],
      'rows for operations the document does not list',
    );
    for (const [name, row] of Object.entries(TABLE)) {
      const [who, needs, ...rest] = row.split(' ');
      assert.ok(WHO.includes(who as (typeof WHO)[number]) && [undefined, 'friendship', 'follow'].includes(needs), name);
      assert.equal(rest.length, 0, name);
    }
  });

  // Every operation in friendship mode (the default); in follow mode, those whose row names a mode
  // (the others' rows do not depend on it).
  for (const mode of ['friendship', 'follow'] as const) {
    test(`every operation × role × target in ${mode} mode`, async (t) => {
      await setMode(mode);
      const mismatches: string[] = [];
      let cells = 0;
      /** One operation's cells: reads all at once; writes one after the other, on members of their own. */
      const check = async (op: Operation, row: string) => {
        // A write's own members keep a delete from leaking into other operations' cells (within one,
        // the admin, who may delete, comes after the members).
        const people = op.method === 'get' ? shared : await actors();
        const cellsOf = ROLES.flatMap((role) =>
          (op.path.includes('{id}') ? TARGETS : [undefined]).map((target) => ({ role, target })),
        );
        const judge = async ({ role, target }: (typeof cellsOf)[number]) => {
          const response = await ask(op, role, target, people);
          cells++;
          const want = expected(row, role, target, mode);
          const got = outcomeOf(response.status);
          const cell = `${nameOf(op)} as ${role}${target ? ` on ${target}` : ''}`;
          if (got !== want) mismatches.push(`${cell}: expected ${want}, got ${response.status} ${response.text}`);
          if (response.status >= 400 && (typeof response.body?.detail !== 'string' || !response.body?.code)) {
            mismatches.push(`${cell}: ${response.status} without {detail, code}: ${response.text}`);
          }
          // The example bodies may change the mode (PATCH /dynamic_preference/): put it back.
          if (op.method !== 'get' && response.status < 300 && op.path.includes('dynamic_preference')) {
            await setMode(mode);
          }
        };
        if (op.method === 'get') await Promise.all(cellsOf.map(judge));
        else for (const cell of cellsOf) await judge(cell);
      };
      const rows = operationsOf(doc).flatMap((op) => {
        const row = TABLE[nameOf(op)]; // a missing row is reported by the completeness test
        return row !== undefined && (mode === 'friendship' || row.includes(' ')) ? [{ op, row }] : [];
      });
      // A write that may change the mode runs alone; the other operations four at a time.
      const alone = rows.filter(({ op }) => op.method !== 'get' && op.path.includes('dynamic_preference'));
      const queue = rows.filter((r) => !alone.includes(r));
      const lane = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await check(next.op, next.row);
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      for (const { op, row } of alone) await check(op, row);
      t.diagnostic(`${cells} cells`);
      assert.deepEqual(mismatches, []);
    });
  }

  test('the realtime upgrade: members and the admin connect; anonymous and deactivated members are refused', async () => {
    const people = await actors();
    const open = (token: string) =>
      SocketClient.open(world.baseUrl, token).then(
        (client) => {
          client.close();
          return 'open';
        },
        (error: Error) => error.message,
      );
    assert.equal(await open(people.member.token), 'open');
    assert.equal(await open(adminToken), 'open');
    assert.equal(await open(people.deactivated.token), 'handshake refused: 401');
    assert.equal(await open(''), 'handshake refused: 401');
  });
});
