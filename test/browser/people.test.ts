/**
 * Finding people with SelfCommunity's published widgets, unchanged, against kith in a real browser:
 * UserSuggestionWidget (GET /suggestion/user/) and UserAutocomplete (GET /user/autocomplete/ while typing,
 * POST /user/match/ for pasted names). Before kith had these endpoints the widget showed its placeholders
 * forever and the picker found nobody.
 *
 * Run with `npm run test:browser` (needs `npm ci` in examples/widgets and Chromium; see test/helpers/browser.ts).
 * Bounded: the build, kith and Chromium within 120 s, the tests within 40 s each.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_PASSWORD, BrowserKith, type BrowserMember } from '../helpers/browser.js';

let world: BrowserKith;
before(
  async () => {
    world = await BrowserKith.start();
  },
  { timeout: 120_000 },
);
after(() => world?.close());

async function connect(a: BrowserMember, b: BrowserMember) {
  for (const [actor, other, action] of [
    [a, b, 'request'],
    [b, a, 'accept'],
  ] as const) {
    const r = await world.api('POST', `/api/v2/user/${other.id}/connection/${action}/`, actor.token);
    assert.equal(r.status, 200, `${actor.username} ${action} ${other.username}: ${JSON.stringify(r.body)}`);
  }
}

/** The usernames listed in `section`'s rows, in order, out of the known ones. */
async function listed(section: any, usernames: string[]): Promise<string[]> {
  const texts: string[] = await section.locator('li').evaluateAll((items: any[]) => items.map((li) => li.textContent));
  return texts.map((text) => {
    const names = usernames.filter((u) => text.includes(u));
    assert.equal(names.length, 1, `one known member per row: ${text}`);
    return names[0]!;
  });
}

test('UserSuggestionWidget lists the members kith suggests, most mutual connections first', {
  timeout: 40_000,
}, async () => {
  const admin = await world.signIn('admin', ADMIN_PASSWORD);
  const [maria, bob, carol, dave, erin, zoe] = [
    await world.member(admin.token, 'maria'),
    await world.member(admin.token, 'bob'),
    await world.member(admin.token, 'carol'),
    await world.member(admin.token, 'dave'),
    await world.member(admin.token, 'erin'),
    await world.member(admin.token, 'zoe_a', 'Zoë Ångström'),
  ];
  assert(maria && bob && carol && dave && erin && zoe);
  await connect(maria, bob);
  await connect(maria, carol);
  await connect(bob, dave);
  await connect(carol, dave);
  await connect(bob, erin);
  const names = ['admin', ...[maria, bob, carol, dave, erin, zoe].map((m) => m.username)];

  const { context, page, problems, calls } = await world.openPage(maria, { people: '1' });
  try {
    const section = page.locator('[data-testid="suggestions"]');
    await section.locator('h5').waitFor({ timeout: 30_000 });
    assert.equal((await section.locator('h5').textContent())?.trim(), 'People Suggestion');
    // dave: 2 mutual connections, erin: 1, then the newest member with none (zoe_a); the admin is the fourth.
    assert.deepEqual(await listed(section, names), ['dave', 'erin', 'zoe_a']);

    await section.getByRole('button', { name: 'Show All' }).click({ timeout: 10_000 });
    const dialog = page.getByRole('dialog');
    await dialog.locator('li', { hasText: 'admin' }).waitFor({ timeout: 15_000 });
    assert.deepEqual(await listed(dialog, names), ['dave', 'erin', 'zoe_a', 'admin']);

    assert(calls.includes('200 GET /api/v2/suggestion/user/?limit=3'), calls.join('\n'));
    assert.deepEqual(
      calls.filter((c) => !/^2\d\d /.test(c)),
      [],
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('UserAutocomplete finds members as one types, and resolves pasted usernames', { timeout: 40_000 }, async () => {
  const admin = await world.signIn('admin', ADMIN_PASSWORD);
  const me = await world.member(admin.token, 'picker');
  await world.member(admin.token, 'yves', 'Yvès Ølsen');
  await world.member(admin.token, 'paula');
  await world.member(admin.token, 'quinn');
  const { context, page, problems, calls } = await world.openPage(me, { people: '1' });
  try {
    const section = page.locator('[data-testid="autocomplete"]');
    const input = section.getByLabel('Select users');
    // The picker asks kith from the third character on, and opens its list on the next keystroke.
    const answered = page.waitForResponse((r: any) => r.url().includes('/api/v2/user/autocomplete/?search=yve'));
    await input.fill('yve');
    await answered;
    await input.press('s');
    const option = page.getByRole('option', { name: 'yves' });
    await option.waitFor({ timeout: 15_000 });
    await option.click();
    await page.getByTestId('picked').filter({ hasText: 'yves' }).waitFor({ timeout: 10_000 });
    assert(calls.includes('200 GET /api/v2/user/autocomplete/?search=yve'), calls.join('\n'));

    // Pasted names: the picker asks kith which of them are members (unknown ones are dropped).
    await section.getByLabel('Selected Users').fill('PAULA\nquinn\nnobody');
    await page.getByTestId('picked').filter({ hasText: 'paula,quinn' }).waitFor({ timeout: 10_000 });
    assert(calls.includes('200 POST /api/v2/user/match/'), calls.join('\n'));

    assert.deepEqual(
      calls.filter((c) => !/^2\d\d /.test(c)),
      [],
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
