/**
 * Hiding members with SelfCommunity's published widgets, unchanged, against kith in a real browser
 * (the harness: ./harness.ts): `UserActionIconButton`'s "Block user" item (it calls /hide/) and
 * `UserProfileBlocked` (it calls /is_hidden_by/ and reads the member's /hidden_users_id/).
 * Run with `npm run test:browser`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ADMIN_PASSWORD,
  act,
  api,
  kith,
  type Member,
  member,
  openPage,
  signIn,
  startBrowserHarness,
  stopBrowserHarness,
} from './harness.js';

// Bounded: the build, kith and Chromium within 40 s, the two tests within 45 and 20 s. The first test takes
// the first page load (Chromium compiling the bundle: 5 to 18 s with the machine idle or busy).
before(startBrowserHarness, { timeout: 40_000 });
after(stopBrowserHarness);

const BLOCKED = 'The contents are hidden because you have blocked the user.';
const BLOCKED_BY = 'The contents are hidden because you have been blocked by the user.';

const receivedFrom = async (who: Member) =>
  (await api('GET', '/api/v2/user/connection/requests/', who.token)).body.results.map(
    (r: { from_user: { id: number } }) => r.from_user.id,
  );
const isHidden = async (who: Member, them: Member) =>
  (await api('GET', `/api/v2/user/${them.id}/is_hidden/`, who.token)).body.is_hidden;

test('"Block user" in UserActionIconButton hides the member in kith; UserProfileBlocked’s Unblock shows them again', {
  timeout: 45_000,
}, async () => {
  const admin = await signIn('admin', ADMIN_PASSWORD);
  const [hana, ivan] = await Promise.all(['hana', 'ivan'].map((n) => member(admin.token, n)));
  assert(hana && ivan);
  await act(ivan, hana, 'request');
  assert.deepEqual(await receivedFrom(hana), [ivan.id]);

  const { context, page, problems, calls } = await openPage(hana, kith, { block: String(ivan.id) });
  try {
    const menu = page.locator('[data-testid="block-member"]');
    await menu.getByText(`@${ivan.username}`).waitFor({ timeout: 15_000 });
    const notice = page.locator('[data-testid="blocked-notice"]');
    assert.equal(await notice.getByText(BLOCKED).count(), 0);

    // Block: the menu's item, then the confirmation.
    await menu.getByRole('button').click({ timeout: 10_000 });
    await page.getByRole('menuitem', { name: 'Block user' }).click({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Yes' }).click({ timeout: 10_000 });
    await notice.getByText(BLOCKED).waitFor({ timeout: 10_000 });
    // The confirmation stays open after the action (the component closes it only on failure).
    await page.getByRole('button', { name: 'No' }).click({ timeout: 10_000 });
    await page.getByRole('dialog').waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await isHidden(hana, ivan), true);
    assert.deepEqual(await receivedFrom(hana), [], 'his waiting request left her list');
    const his = await api('GET', `/api/v2/user/${hana.id}/connection_status/`, ivan.token);
    assert.deepEqual(his.body, { connection_status: 'sent_connection_request' }, 'to him it still waits');

    // The menu now offers to unblock; the notice's own button does it.
    await menu.getByRole('button').click({ timeout: 10_000 });
    await page.getByRole('menuitem', { name: 'Unblock user' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape');
    await notice.getByRole('button', { name: 'Unblock' }).click({ timeout: 10_000 });
    await notice.getByText(BLOCKED).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await isHidden(hana, ivan), false);
    assert.deepEqual(await receivedFrom(hana), [ivan.id], 'showing him again brings his request back');

    assert.equal(calls.filter((c) => c === `204 POST /api/v2/user/${ivan.id}/hide/`).length, 2, calls.join('\n'));
    assert(calls.includes('200 GET /api/v2/user/hidden_users_id/'), calls.join('\n'));
    assert.deepEqual(
      calls.filter((c) => !/^2\d\d /.test(c)),
      [],
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('UserProfileBlocked says so when the member hides me, and when I hide them (from kith’s hidden ids)', {
  timeout: 20_000,
}, async () => {
  const admin = await signIn('admin', ADMIN_PASSWORD);
  const [jules, kim] = await Promise.all(['jules', 'kim'].map((n) => member(admin.token, n)));
  assert(jules && kim);
  assert.equal((await api('POST', `/api/v2/user/${jules.id}/hide/`, kim.token)).status, 204);
  assert.equal((await api('POST', `/api/v2/user/${kim.id}/hide/`, jules.token)).status, 204);

  const { context, page, problems, calls } = await openPage(jules, kith, { block: String(kim.id) });
  try {
    const notice = page.locator('[data-testid="blocked-notice"]');
    await notice.getByText(BLOCKED_BY).waitFor({ timeout: 15_000 });
    await notice.getByText(BLOCKED).waitFor({ timeout: 10_000 });
    assert(calls.includes(`200 GET /api/v2/user/${kim.id}/is_hidden_by/`), calls.join('\n'));
    assert.deepEqual(
      calls.filter((c) => !/^2\d\d /.test(c)),
      [],
    );
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
