import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertPage } from '../helpers/shapes.js';
import { type ApiResponse, type Member, ok, World } from '../helpers/world.js';

let world: World;
let admin: string;
before(async () => {
  world = await World.start();
  admin = await world.adminToken();
});
after(() => world.close());

const patchPreferences = (body: unknown, token = admin) =>
  world.request('PATCH', '/api/v2/dynamic_preference/', { token, body });

async function preference(name: string) {
  const r = await ok(world.get(`/api/v2/dynamic_preference/?keys=configurations.${name}`, null));
  assert.equal(r.body.count, 1);
  return r.body.results[0].value;
}

describe('follow mode: friendship endpoints answer 403, data is kept', () => {
  let a: Member;
  let b: Member;
  let c: Member;
  let d: Member;
  let e: Member;
  let f: Member;
  /** Everything the friendship endpoints show, to compare before and after the switch. */
  let snapshot: () => Promise<unknown>;

  before(async () => {
    [a, b, c, d, e, f] = (await Promise.all(Array.from({ length: 6 }, () => world.user()))) as Member[] as [
      Member,
      Member,
      Member,
      Member,
      Member,
      Member,
    ];
    await ok(world.act(a.token, b.id, 'request')); // pending a -> b
    await ok(world.act(c.token, d.id, 'request'));
    await ok(world.act(d.token, c.id, 'accept')); // c and d connected
    await ok(world.act(e.token, f.id, 'request'));
    await ok(world.act(f.token, e.id, 'reject')); // e -> f rejected
    await ok(world.act(a.token, c.id, 'request'));
    await ok(world.act(c.token, a.id, 'accept')); // a and c connected
    snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const m of [a, b, c, d, e, f]) {
        out[`${m.id} received`] = (await ok(world.get('/api/v2/user/connection/requests/', m.token))).body;
        out[`${m.id} rejected`] = (
          await ok(world.get('/api/v2/user/connection/requests/?rejected=true', m.token))
        ).body;
        out[`${m.id} sent`] = (await ok(world.get('/api/v2/user/connection/requests_sent/', m.token))).body;
        out[`${m.id} connections`] = (await ok(world.get(`/api/v2/user/${m.id}/connections/`, a.token))).body;
        out[`${m.id} statuses`] = (
          await ok(
            world.post('/api/v2/user/connection/statuses/', m.token, { users: [a, b, c, d, e, f].map((x) => x.id) }),
          )
        ).body;
        const me = (await ok(world.get('/api/v2/user/me/', m.token))).body;
        out[`${m.id} counters`] = [
          me.connections_counter,
          me.connection_requests_sent_counter,
          me.connection_requests_received_counter,
        ];
      }
      return out;
    };
  });

  test('switching to follow mode and back', async () => {
    const before = await snapshot();
    const rowsBefore = await Promise.all([
      world.db.selectFrom('connection_requests').selectAll().orderBy('id').execute(),
      world.db.selectFrom('connections').selectAll().orderBy('user_id').orderBy('friend_id').execute(),
    ]);

    const switched = await ok(patchPreferences({ follow_enabled: true }));
    assert.deepEqual(switched.body, {
      follow_enabled: { id: 1, section: 'configurations', name: 'follow_enabled', value: true, type: 'boolean' },
    });
    try {
      assert.equal(await preference('follow_enabled'), true);
      assert.equal(await preference('connection_enabled'), false);

      const forbidden: Array<[string, string, string | null]> = [
        ['POST', `/api/v2/user/${f.id}/connection/request/`, a.token],
        ['POST', `/api/v2/user/${a.id}/connection/accept/`, b.token],
        ['POST', `/api/v2/user/${a.id}/connection/reject/`, b.token],
        ['POST', `/api/v2/user/${b.id}/connection/cancel_request/`, a.token],
        ['POST', `/api/v2/user/${e.id}/connection/cancel_reject/`, f.token],
        ['POST', `/api/v2/user/${d.id}/connection/remove/`, c.token],
        ['GET', '/api/v2/user/connection/requests/', b.token],
        ['GET', '/api/v2/user/connection_requests/', b.token],
        ['GET', '/api/v2/user/connection/requests/?rejected=true', f.token],
        ['GET', '/api/v2/user/connection/requests_sent/', a.token],
        ['GET', `/api/v2/user/${c.id}/connections/`, a.token],
        ['GET', `/api/v2/user/${c.id}/connections/?mutual=1`, a.token],
        ['GET', `/api/v2/user/${c.id}/connections/`, null],
      ];
      for (const [method, path, token] of forbidden) {
        const response = await world.request(method, path, {
          token,
          ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, raw: '' } : {}),
        });
        assert.equal(response.status, 403, `${method} ${path}: ${response.status} ${response.text}`);
        assert.equal(response.body.code, 'friendship_mode_required', path);
        assert.equal(typeof response.body.detail, 'string');
        assert.ok(response.body.detail.length > 10);
      }

      // Authentication still comes first: anonymous on a required endpoint is a 401.
      const anonymous = await world.request('GET', '/api/v2/user/connection/requests/');
      assert.equal(anonymous.status, 401);

      // Endpoints whose pages do not require friendship mode still answer.
      await ok(world.get('/api/v2/user/me/', a.token));
      await ok(world.get(`/api/v2/user/${b.id}/`, a.token));
      await ok(world.get(`/api/v2/user/${c.id}/is_connection/`, a.token));
      await ok(world.get(`/api/v2/user/${c.id}/connection_status/`, a.token));
      await ok(world.post('/api/v2/user/connection/statuses/', a.token, { users: [c.id] }));

      // Counters: the connection fields belong to friendship mode.
      const counters = await ok(world.get(`/api/v2/user/${a.id}/counters/`, a.token));
      assert.equal(counters.body.connections, undefined);
      assert.equal(counters.body.connection_requests_sent, undefined);
      assert.equal(counters.body.connection_requests_received, undefined);

      const rowsDuring = await Promise.all([
        world.db.selectFrom('connection_requests').selectAll().orderBy('id').execute(),
        world.db.selectFrom('connections').selectAll().orderBy('user_id').orderBy('friend_id').execute(),
      ]);
      assert.deepEqual(rowsDuring, rowsBefore, 'nothing changed while in follow mode');
    } finally {
      await ok(patchPreferences({ follow_enabled: false }));
    }

    assert.equal(await preference('follow_enabled'), false);
    assert.equal(await preference('connection_enabled'), true);
    assert.deepEqual(await snapshot(), before, 'everything is back');
    // And the friendship endpoints work again.
    assert.deepEqual((await ok(world.act(b.token, a.id, 'accept'))).body, { connection_status: 'connected' });
  });

  test('the switch also works with section.name keys and form-encoded bodies', async () => {
    await ok(patchPreferences({ 'configurations.follow_enabled': true }));
    assert.equal(await preference('follow_enabled'), true);
    const form = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: admin,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: 'follow_enabled=false',
    });
    assert.equal(form.status, 200, form.text);
    assert.equal(await preference('follow_enabled'), false);
    const formJson = await world.request('PATCH', '/api/v2/dynamic_preference/', {
      token: admin,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      raw: '{"follow_enabled": false, "application_slogan1": "Hello"}',
    });
    assert.equal(formJson.status, 200, formJson.text);
    assert.equal(formJson.body.application_slogan1.value, 'Hello');
    await ok(world.get('/api/v2/user/connection/requests/', a.token));
  });
});

describe('PATCH /api/v2/dynamic_preference/ validation', () => {
  for (const [label, body, field] of [
    ['an unknown preference', { no_such_preference: true }, 'no_such_preference'],
    ['a string for a boolean', { follow_enabled: 'yes' }, 'follow_enabled'],
    ['a number for a boolean', { content_availability: 1 }, 'content_availability'],
    ['the derived connection_enabled', { connection_enabled: false }, 'connection_enabled'],
    ['a wrong section', { 'text.follow_enabled': true }, 'text.follow_enabled'],
    // MUI, behind the widgets' theme, throws on colour names that the theme's own check lets through.
    ['a colour name', { colorprimary: 'red' }, 'colorprimary'],
    ['a five-digit hex colour', { colorback: '#12345' }, 'colorback'],
    ['a number for a colour', { navbarback: 123456 }, 'navbarback'],
    ['a relative logo path', { logo_dark: '/logo.png' }, 'logo_dark'],
    [
      "a cover URL with a quote (it would end the widget's CSS url('…'))",
      { user_default_cover: "https://x.test/a'b.png" },
      'user_default_cover',
    ],
    ['a javascript: cover', { user_default_cover: 'javascript:alert(1)' }, 'user_default_cover'],
    [
      'the read-only user_metadata_definition',
      { user_metadata_definition: '{"school": {"label": "School"}}' },
      'user_metadata_definition',
    ],
  ] as const) {
    test(`${label}: 400, nothing changed`, async () => {
      const response = await patchPreferences({ ...body, application_slogan2: 'should not be saved' });
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.code, 'invalid');
      assert.equal(typeof response.body.detail, 'string');
      assert.ok(field in response.body.errors, response.text);
      const slogan = await ok(world.get('/api/v2/dynamic_preference/?keys=text.application_slogan2', null));
      assert.equal(slogan.body.results[0].value, '');
      assert.equal(await preference('follow_enabled'), false);
    });
  }

  test('every preference the contract page lists as updatable is stored and read back', async () => {
    // ../shared/reference/preferences/update_dynamic_preference.md, section by section.
    const updatable: Record<string, unknown> = {
      'colors.colorback': '#fdfdfd',
      'colors.colorprimary': '#555555',
      'colors.colorsecondary': '#B20404',
      'colors.font_color': '#333',
      'colors.font_color_secondary': '#666666',
      'colors.navbarback': '#ffffff',
      'configurations.onboarding_hidden': true,
      'logo.logo_dark': 'https://cdn.example.org/logo-dark.png',
      'logo.logo_light': 'https://cdn.example.org/logo-light.png',
      'logo.navbar_logo': 'https://cdn.example.org/navbar.svg',
      'logo.navbar_logo_mobile': 'data:image/png;base64,iVBORw0KGgo=',
      'text.application_slogan1': 'Neighbours, connected',
      'text.application_slogan2': 'Say hello',
      'webmaster.meta_robots': 'noindex, nofollow',
      'webmaster.meta_title_home_not_logged': 'Welcome to kith',
      'webmaster.meta_description': 'A community of neighbours.',
    };
    const keys = Object.keys(updatable).join(',');
    const read = async () => {
      const r = await ok(world.get(`/api/v2/dynamic_preference/?keys=${keys}`, null));
      return Object.fromEntries(r.body.results.map((p: any) => [`${p.section}.${p.name}`, p.value]));
    };
    const before = await read();
    assert.deepEqual(Object.keys(before).sort(), Object.keys(updatable).sort(), 'every updatable preference is listed');

    const patched = await ok(patchPreferences(updatable));
    try {
      assert.deepEqual(
        Object.fromEntries(Object.values(patched.body).map((p: any) => [`${p.section}.${p.name}`, p.value])),
        updatable,
      );
      assert.equal(patched.body.colorback.type, 'color');
      assert.deepEqual(await read(), updatable);
    } finally {
      await ok(patchPreferences(before));
    }
    assert.deepEqual(await read(), before);
  });

  test('an empty body or an empty object: 400', async () => {
    for (const raw of ['', '{}']) {
      const response = await world.request('PATCH', '/api/v2/dynamic_preference/', {
        token: admin,
        headers: { 'content-type': 'application/json' },
        raw,
      });
      assert.equal(response.status, 400, `${JSON.stringify(raw)}: ${response.text}`);
    }
  });
});

describe('dynamic preferences: list, get, search', () => {
  test('the list: paginated, anonymous, every item {id, section, name, value}', async () => {
    const response = await ok(world.get('/api/v2/dynamic_preference/', null));
    assertPage(response.body);
    assert.ok(response.body.count >= 3);
    for (const item of response.body.results) {
      assert.deepEqual(Object.keys(item).sort(), ['id', 'name', 'section', 'value']);
      assert.equal(typeof item.id, 'number');
    }
    const byName = new Map(response.body.results.map((p: any) => [`${p.section}.${p.name}`, p]));
    assert.deepEqual(byName.get('configurations.follow_enabled'), {
      id: 1,
      section: 'configurations',
      name: 'follow_enabled',
      value: false,
    });
    assert.equal((byName.get('configurations.connection_enabled') as any).value, true);
    assert.equal((byName.get('configurations.content_availability') as any).value, true);

    // Pages cover the whole list once.
    const seen: number[] = [];
    let url: string | null = '/api/v2/dynamic_preference/?limit=5';
    while (url) {
      const r: ApiResponse = await ok(world.get(url, null));
      seen.push(...r.body.results.map((p: any) => p.id));
      url = r.body.next;
    }
    assert.equal(seen.length, response.body.count);
    assert.equal(new Set(seen).size, seen.length);
  });

  for (const path of ['/api/v2/dynamic_preference/', '/api/v2/dynamic_preference/search/']) {
    test(`${path}?keys=...: exactly the named preferences`, async () => {
      const response = await ok(
        world.get(`${path}?keys=configurations.follow_enabled,configurations.content_availability`, null),
      );
      assert.equal(response.body.count, 2);
      assert.deepEqual(response.body.results.map((p: any) => p.name).sort(), [
        'content_availability',
        'follow_enabled',
      ]);
      const unknown = await ok(world.get(`${path}?keys=configurations.no_such_thing`, null));
      assert.deepEqual(unknown.body, { count: 0, next: null, previous: null, results: [] });
    });

    test(`${path}?section= and ?search=`, async () => {
      const section = await ok(world.get(`${path}?section=text`, null));
      assert.ok(section.body.count >= 1);
      assert.ok(section.body.results.every((p: any) => p.section === 'text'));
      const configurations = await ok(world.get(`${path}?section=configurations&limit=100`, null));
      assert.ok(configurations.body.results.some((p: any) => p.name === 'follow_enabled'));
      assert.ok(configurations.body.results.every((p: any) => p.section === 'configurations'));
      const search = await ok(world.get(`${path}?search=follow`, null));
      assert.ok(search.body.results.some((p: any) => p.name === 'follow_enabled'));
      assert.ok(search.body.results.every((p: any) => `${p.section}.${p.name}`.includes('follow')));
      const none = await ok(world.get(`${path}?search=zzz-nothing`, null));
      assert.equal(none.body.count, 0);
      const nothing = await ok(world.get(`${path}?section=no_section`, null));
      assert.equal(nothing.body.count, 0);
    });
  }

  test('the default page is the whole catalogue: the provider reads no other', async () => {
    const first = await ok(world.get('/api/v2/dynamic_preference/', null));
    assert.ok(first.body.count > 20, `count ${first.body.count}`);
    assert.equal(first.body.results.length, first.body.count);
    assert.equal(first.body.next, null);
    const paged = await ok(world.get('/api/v2/dynamic_preference/?limit=20', null));
    assert.equal(paged.body.results.length, 20);
    assert.notEqual(paged.body.next, null);
  });

  for (const path of ['/api/v2/dynamic_preference/', '/api/v2/dynamic_preference/search/']) {
    test(`${path}?ordering=: id, name and section, both ways, across pages`, async () => {
      const all: Array<{ id: number; section: string; name: string }> = (await ok(world.get(`${path}?limit=100`, null)))
        .body.results;
      const names = all.map((p) => p.name);
      const ids = all.map((p) => p.id);
      const byName = [...names].sort();
      const byId = [...ids].sort((a, b) => a - b);
      // Sections in code-unit order; within a section, id order.
      const bySection = [...all]
        .sort((a, b) => (a.section === b.section ? a.id - b.id : a.section < b.section ? -1 : 1))
        .map((p) => p.name);
      const bySectionDescending = [...all]
        .sort((a, b) => (a.section === b.section ? a.id - b.id : a.section > b.section ? -1 : 1))
        .map((p) => p.name);
      const ordered = async (ordering: string) =>
        (await ok(world.get(`${path}?ordering=${ordering}&limit=100`, null))).body.results as typeof all;

      assert.deepEqual(
        (await ordered('name')).map((p) => p.name),
        byName,
      );
      assert.deepEqual(
        (await ordered('-name')).map((p) => p.name),
        [...byName].reverse(),
      );
      assert.deepEqual(
        (await ordered('id')).map((p) => p.id),
        byId,
      );
      assert.deepEqual(
        (await ordered('-id')).map((p) => p.id),
        [...byId].reverse(),
      );
      assert.deepEqual(
        (await ordered('section')).map((p) => p.name),
        bySection,
      );
      assert.deepEqual(
        (await ordered('-section')).map((p) => p.name),
        bySectionDescending,
      );
      assert.notDeepEqual(
        byName,
        byId.map((id) => all.find((p) => p.id === id)?.name),
        'the orders differ',
      );

      // Pages follow the ordering, and filters still apply.
      const seen: string[] = [];
      let url: string | null = `${path}?ordering=-name&limit=7`;
      while (url) {
        const r: ApiResponse = await ok(world.get(url, null));
        seen.push(...r.body.results.map((p: any) => p.name));
        url = r.body.next;
      }
      assert.deepEqual(seen, [...byName].reverse());
      const colors = await ok(world.get(`${path}?section=colors&ordering=-name`, null));
      assert.deepEqual(
        colors.body.results.map((p: any) => p.name),
        all
          .filter((p) => p.section === 'colors')
          .map((p) => p.name)
          .sort()
          .reverse(),
      );
    });

    test(`${path}?ordering= with an unknown field: 400 naming ordering`, async () => {
      for (const ordering of ['value', 'help', '--name', 'name,id']) {
        const response = await world.get(`${path}?ordering=${encodeURIComponent(ordering)}`, null);
        assert.equal(response.status, 400, `${ordering}: ${response.text}`);
        assert.equal(response.body.code, 'invalid');
        assert.equal(typeof response.body.detail, 'string');
        assert.ok('ordering' in response.body.errors, response.text);
      }
    });
  }

  test('GET /api/v2/dynamic_preference/{id}/', async () => {
    assert.deepEqual((await ok(world.get('/api/v2/dynamic_preference/1/', null))).body, {
      id: 1,
      section: 'configurations',
      name: 'follow_enabled',
      value: false,
    });
    const derived = await ok(world.get('/api/v2/dynamic_preference/2/', null));
    assert.equal(derived.body.name, 'connection_enabled');
    assert.equal(derived.body.value, true);
    const missing = await world.get('/api/v2/dynamic_preference/999999/', null);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'not_found');
    assert.equal((await world.get('/api/v2/dynamic_preference/abc/', null)).status, 404);
  });

  test('connection_enabled follows follow_enabled and cannot be written', async () => {
    await ok(patchPreferences({ follow_enabled: true }));
    try {
      assert.equal((await ok(world.get('/api/v2/dynamic_preference/2/', null))).body.value, false);
      const write = await patchPreferences({ connection_enabled: true });
      assert.equal(write.status, 400);
      assert.equal(await preference('follow_enabled'), true);
    } finally {
      await ok(patchPreferences({ follow_enabled: false }));
    }
    assert.equal((await ok(world.get('/api/v2/dynamic_preference/2/', null))).body.value, true);
  });

  test('content_availability: false closes public reads to anonymous visitors, not preferences', async () => {
    const u = await world.user();
    await ok(patchPreferences({ content_availability: false }));
    try {
      assert.equal((await world.get(`/api/v2/user/${u.id}/`, null)).status, 401);
      // The preferences stay readable: clients read them before signing in.
      await ok(world.get('/api/v2/dynamic_preference/', null));
      await ok(world.get(`/api/v2/user/${u.id}/`, u.token));
    } finally {
      await ok(patchPreferences({ content_availability: true }));
    }
    await ok(world.get(`/api/v2/user/${u.id}/`, null));
  });
});
