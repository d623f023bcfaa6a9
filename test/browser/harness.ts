/**
 * The harness of the browser tests: SelfCommunity's published widgets (the example page,
 * examples/widgets, built with Vite) on one origin, kith on another, Chromium driving the page.
 *
 * kith runs on one origin, the example page on another, as on a community's own site: the page
 * reaches kith only through CORS. The provider opens its realtime socket at ws://<portal host>/ws/notify
 * and drops the portal's port: given kith's own address, the socket finds nothing, and the widgets must
 * render regardless. Given `http://kith.test` (PROXIED), which Chromium maps to kith's port as a reverse
 * proxy on the standard port would, the socket reaches kith and carries news.
 *
 * Needs `npm ci` in examples/widgets and Debian's chromium (/usr/bin/chromium or $CHROMIUM_PATH).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { JWT_SECRET, openTestDatabase } from '../helpers/world.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = join(root, 'examples/widgets');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const screenshot = resolve(root, process.env.KITH_SCREENSHOT ?? '.kith-test-browser/widgets.png');
/** The administrator's password that openTestDatabase sets. */
export const ADMIN_PASSWORD = 'Admin-pass-1';
const PASSWORD = 'Widgets-pass-1';
/** kith as the browser sees it behind a reverse proxy on the standard port (see `--host-resolver-rules`). */
export const PROXIED = 'http://kith.test';

// Headless, as root, and quiet: without the background-networking flags Chromium keeps calling hosts that a
// machine with no network beyond the package registries refuses.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Member {
  id: number;
  username: string;
  token: string;
  refresh: string;
}

let handle: Awaited<ReturnType<typeof openTestDatabase>>;
let app: FastifyInstance;
/** kith's own address (set by `startBrowserHarness`). */
export let kith: string;
/**
 * kith's answers as it sent them (`304 GET /api/v2/user/me/`), in order: what went over the wire,
 * which a page's own view of a response revalidated from its cache does not show.
 */
export const kithAnswers: string[] = [];
let pageServer: Server;
let pageOrigin: string;
let browser: any;
let dist: string;

/** Runs a command to completion within `ms`, or fails the test with its output. */
function run(command: string, args: string[], cwd: string, ms: number): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new Error(`${command} ${args.join(' ')} ended with ${signal ?? code}:\n${output.slice(-4000)}`));
    });
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** Serves the built page (and index.html for any other path), nothing else: a community's own site. */
function serveStatic(dir: string): Promise<Server> {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    let file = join(dir, path);
    if (!file.startsWith(dir + sep) || !existsSync(file) || path.endsWith('/')) file = join(dir, 'index.html');
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

export async function api(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${kith}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

export async function signIn(username: string, password: string) {
  const response = await fetch(`${kith}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  assert.equal(response.status, 200, `sign-in of ${username}`);
  const body = (await response.json()) as { access_token: string; refresh_token: string };
  return { token: body.access_token, refresh: body.refresh_token };
}

/**
 * A member created the way a community's backend would: the admin's account/create, then a password sign-in.
 * The database is this file's own, so plain names are free (and read well on the screenshot).
 */
export async function member(adminToken: string, username: string): Promise<Member> {
  const created = await api('POST', '/api/v2/account/create/', adminToken, {
    username,
    email: `${username}@example.org`,
    password: PASSWORD,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.id, username, ...(await signIn(username, PASSWORD)) };
}

export async function act(actor: Member, other: Member, action: string) {
  const response = await api('POST', `/api/v2/user/${other.id}/connection/${action}/`, actor.token);
  assert.equal(response.status, 200, `${actor.username} ${action} ${other.username}: ${JSON.stringify(response.body)}`);
}

/**
 * Builds the example page, serves it on its own origin, starts kith (told that origin for CORS) over
 * a throwaway database and launches Chromium; within 40 s (the callers' `before` timeout).
 */
export async function startBrowserHarness() {
  const playwrightEntry = join(example, 'node_modules/playwright-core/package.json');
  if (!existsSync(playwrightEntry)) throw new Error('examples/widgets has no node_modules: run `npm ci` there first');
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium`);

  // The page first, so kith can be told its origin.
  // Each test file builds into its own folder: files running side by side do not share one.
  dist = mkdtempSync(join(tmpdir(), 'kith-widgets-'));
  await run(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'error', '--outDir', dist, '--emptyOutDir'],
    example,
    90_000,
  );
  pageServer = await serveStatic(dist);
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;

  handle = await openTestDatabase();
  app = await buildApp({
    config: {
      jwtSecret: JWT_SECRET,
      accessTokenTtl: 3600,
      refreshTokenTtl: 86_400,
      trustProxy: false,
      corsOrigins: [pageOrigin],
    },
    db: handle.db,
    realtime: { handle, databaseUrl: handle.databaseUrl },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  app.server.on('request', (req, res) =>
    res.on('finish', () => kithAnswers.push(`${res.statusCode} ${req.method} ${(req.url ?? '').split('?')[0]}`)),
  );
  const port = (app.server.address() as AddressInfo).port;
  kith = `http://127.0.0.1:${port}`;

  const { chromium } = createRequire(playwrightEntry)('playwright-core');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP kith.test 127.0.0.1:${port}`],
    timeout: 30_000,
  });
}

/** Closes what `startBrowserHarness` started. */
export async function stopBrowserHarness() {
  await browser?.close();
  await new Promise((done) => (pageServer ? pageServer.close(done) : done(undefined)));
  await app?.close();
  await handle?.close();
  if (dist) rmSync(dist, { recursive: true, force: true });
}

export interface WidgetView {
  title: string;
  people: Array<{ name: string; buttons: string[] }>;
}

/** What a widget shows: its title and, per listed person, the name and the buttons. */
export async function widget(page: any, testId: string, usernames: string[]): Promise<WidgetView> {
  const section = page.locator(`[data-testid="${testId}"]`);
  await section.locator('h5').waitFor({ timeout: 30_000 });
  const rows: Array<{ text: string; buttons: string[] }> = await section.locator('li').evaluateAll((items: any[]) =>
    items.map((li) => ({
      text: li.textContent ?? '',
      buttons: [...li.querySelectorAll('button')].map((b: any) => (b.textContent ?? '').trim()),
    })),
  );
  return {
    title: ((await section.locator('h5').textContent()) ?? '').trim(),
    people: rows.map((row) => {
      const names = usernames.filter((u) => row.text.includes(u));
      assert.equal(names.length, 1, `one known member per row: ${row.text}`);
      return { name: names[0]!, buttons: row.buttons };
    }),
  };
}

export interface OpenedPage {
  context: any;
  page: any;
  /** Page errors: none is expected. */
  problems: string[];
  /** kith's answers to the page: `200 GET /api/v2/feature/`. */
  calls: string[];
  /** The page's WebSockets and the text frames each received. */
  sockets: Array<{ url: string; received: string[] }>;
}

/**
 * Opens the page signed in as `who`, with kith at `portal` (and `query` added to the address: `profile=<id>`),
 * and waits for the provider to know the member.
 */
export async function openPage(who: Member, portal: string, query: Record<string, string> = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 400 } });
  const page = await context.newPage();
  const opened: OpenedPage = { context, page, problems: [], calls: [], sockets: [] };
  page.on('pageerror', (error: Error) => opened.problems.push(`page error: ${error.message}`));
  page.on('response', (response: any) => {
    const url = new URL(response.url());
    if (url.origin === portal) opened.calls.push(`${response.status()} ${response.request().method()} ${url.pathname}`);
  });
  page.on('websocket', (socket: any) => {
    const entry = { url: socket.url() as string, received: [] as string[] };
    opened.sockets.push(entry);
    socket.on('framereceived', (frame: { payload: string | Buffer }) => entry.received.push(String(frame.payload)));
  });
  const hash = new URLSearchParams({ token: who.token, refresh_token: who.refresh });
  const search = new URLSearchParams({ portal, ...query });
  await page.goto(`${pageOrigin}/?${search}#${hash}`, { timeout: 30_000 });
  // A widget that throws while rendering takes the whole page down: fail with its error, not a timeout.
  const shown = page.getByTestId('me').filter({ hasText: who.username }).waitFor({ timeout: 30_000 });
  shown.catch(() => {}); // when the error below wins, the wait ends with the context, unobserved
  let failEarly: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, fail) => {
    failEarly = fail;
  });
  const onError = (error: Error) => failEarly(new Error(`page error before ${who.username} showed: ${error.message}`));
  page.on('pageerror', onError);
  try {
    await Promise.race([shown, crashed]);
  } finally {
    page.off('pageerror', onError);
  }
  return opened;
}

/** Polls `check` until it holds, or fails after `ms` with `what`. */
export async function eventually(what: string, ms: number, check: () => boolean) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}
