/**
 * Free re-reads in a real browser: SelfCommunity's published widgets, unchanged, loaded twice in one
 * browser profile. The browser keeps kith's answers (ETag, `Cache-Control: private, no-cache`) and
 * revalidates them by itself with If-None-Match: the second load's lists come back 304 from kith.
 * Run with `npm run test:browser` (or this file alone).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ADMIN_PASSWORD,
  act,
  kith,
  kithAnswers,
  member,
  openPage,
  signIn,
  startBrowserHarness,
  stopBrowserHarness,
  widget,
} from './harness.js';

// Bounded: the build, kith and Chromium within 120 s (well under 40 s on a quiet machine; more than
// 40 s with a fuzz run and two benches beside it), the test within 60 s (three page loads, the first
// compiling the bundle: 5 to 18 s; 31 s here with the machine busy).
before(startBrowserHarness, { timeout: 120_000 });
after(stopBrowserHarness);

test('a second load of the widgets gets 304s from kith for the lists and the member, and shows the same', {
  timeout: 60_000,
}, async () => {
  const admin = await signIn('admin', ADMIN_PASSWORD);
  const [me, ann, ben, cat] = await Promise.all(['rita', 'ann', 'ben', 'cat'].map((n) => member(admin.token, n)));
  assert(me && ann && ben && cat);
  await act(ann, me, 'request');
  await act(me, ben, 'request');
  await act(cat, me, 'request');
  await act(me, cat, 'accept');
  const names = [me, ann, ben, cat].map((m) => m.username);
  const lists = [
    'GET /api/v2/user/me/',
    'GET /api/v2/user/connection/requests/',
    'GET /api/v2/user/connection/requests_sent/',
    `GET /api/v2/user/${me.id}/connections/`,
  ];

  const { context, page, calls, problems } = await openPage(me, kith);
  try {
    const shown = async (p: typeof page) => ({
      received: await widget(p, 'requests', names),
      sent: await widget(p, 'requests-sent', names),
      connections: await widget(p, 'connections', names),
    });
    const first = await shown(page);
    assert.deepEqual(first.received.people, [{ name: ann.username, buttons: ['Accept'] }]);
    for (const call of lists)
      assert(calls.includes(`200 ${call}`), `first load: 200 ${call}; calls:\n${calls.join('\n')}`);

    // The page's address as openPage made it (the page drops the tokens from its hash once read).
    const opened = new URL(page.url());
    opened.hash = new URLSearchParams({ token: me.token, refresh_token: me.refresh }).toString();
    const address = opened.toString();
    // The same profile loads the page again: its HTTP cache holds the answers and their ETags.
    const again = await context.newPage();
    const secondCalls: string[] = [];
    again.on('response', (response: any) => {
      const url = new URL(response.url());
      if (url.origin === kith) secondCalls.push(`${response.status()} ${response.request().method()} ${url.pathname}`);
    });
    const sentTags: string[] = [];
    again.on('request', async (request: any) => {
      const headers = await request.allHeaders();
      const tag = headers['if-none-match'];
      if (tag) sentTags.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    const answersBefore = kithAnswers.length;
    await again.goto(address, { timeout: 30_000 });
    const second = await shown(again);
    assert.deepEqual(second, first, 'the second load shows what the first showed');
    // The page sees 200s (its cache answered); kith sent 304s, because the browser sent the tags.
    const answered = kithAnswers.slice(answersBefore);
    for (const call of lists) {
      assert(sentTags.includes(call), `the browser sent If-None-Match on ${call}`);
      assert(
        answered.includes(`304 ${call}`),
        `second load: kith answered 304 ${call}; answers:\n${answered.join('\n')}`,
      );
      assert(secondCalls.includes(`200 ${call}`), `second load: the page got 200 ${call} from its cache`);
    }

    // A change on kith's side: the next load gets the new list (200), not the cached one.
    await act(ben, me, 'accept');
    const third = await context.newPage();
    const thirdCalls: string[] = [];
    third.on('response', (response: any) => {
      const url = new URL(response.url());
      if (url.origin === kith) thirdCalls.push(`${response.status()} ${response.request().method()} ${url.pathname}`);
    });
    const thirdBefore = kithAnswers.length;
    await third.goto(address, { timeout: 30_000 });
    const after = await shown(third);
    assert.equal(after.sent.people.length, 0);
    assert.equal(after.connections.people.length, 2);
    const changed = kithAnswers.slice(thirdBefore);
    assert(changed.includes('200 GET /api/v2/user/connection/requests_sent/'), changed.join('\n'));
    assert(changed.includes(`200 GET /api/v2/user/${me.id}/connections/`), changed.join('\n'));
    assert(thirdCalls.includes(`200 GET /api/v2/user/${me.id}/connections/`), thirdCalls.join('\n'));
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
