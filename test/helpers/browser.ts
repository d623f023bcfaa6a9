/**
 * kith and SelfCommunity's published widgets (examples/widgets, built with Vite) in headless Chromium, on two
 * origins as on a community's own site: the page reaches kith only through CORS. The same setup as
 * test/browser/widgets.test.ts, as a class for the browser tests that came after it.
 *
 * Needs `npm ci` in examples/widgets and Debian's chromium (/usr/bin/chromium or $CHROMIUM_PATH).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { JWT_SECRET, openTestDatabase } from './world.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = join(root, 'examples/widgets');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The administrator's password that openTestDatabase sets. */
export const ADMIN_PASSWORD = 'Admin-pass-1';
const PASSWORD = 'Widgets-pass-1';

// Headless, as root, and quiet: without the background-networking flags Chromium keeps calling hosts that a
// machine with no network beyond the package registries refuses.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserMember {
  id: number;
  username: string;
  token: string;
  refresh: string;
}

export interface OpenedPage {
  context: any;
  page: any;
  /** Page errors: none is expected. */
  problems: string[];
  /** kith's answers to the page: `200 GET /api/v2/feature/`. */
  calls: string[];
}

/** Runs a command to completion within `ms`, or fails with its output. */
export function run(command: string, args: string[], cwd: string, ms: number): Promise<void> {
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
export function serveStatic(dir: string): Promise<Server> {
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

/** The built page, kith on its own database and origin, and Chromium. */
export class BrowserKith {
  private constructor(
    readonly kith: string,
    readonly pageOrigin: string,
    private readonly pageServer: Server,
    private readonly app: FastifyInstance,
    private readonly handle: Awaited<ReturnType<typeof openTestDatabase>>,
    private readonly browser: any,
  ) {}

  /** Builds the page (up to 90 s), starts kith allowing the page's origin, launches Chromium. */
  static async start(): Promise<BrowserKith> {
    const playwrightEntry = join(example, 'node_modules/playwright-core/package.json');
    if (!existsSync(playwrightEntry)) throw new Error('examples/widgets has no node_modules: run `npm ci` there first');
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium`);
    await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'error'], example, 90_000);
    const pageServer = await serveStatic(join(example, 'dist'));
    const pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    const handle = await openTestDatabase();
    const app = await buildApp({
      config: {
        jwtSecret: JWT_SECRET,
        accessTokenTtl: 3600,
        refreshTokenTtl: 86_400,
        trustProxy: false,
        corsOrigins: [pageOrigin],
      },
      db: handle.db,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const kith = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const { chromium } = createRequire(playwrightEntry)('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 30_000 });
    return new BrowserKith(kith, pageOrigin, pageServer, app, handle, browser);
  }

  async close() {
    await this.browser.close();
    await new Promise((done) => this.pageServer.close(done));
    await this.app.close();
    await this.handle.close();
  }

  get db() {
    return this.handle.db;
  }

  async api(method: string, path: string, token?: string, body?: unknown) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.kith}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async signIn(username: string, password: string) {
    const response = await fetch(`${this.kith}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
    });
    assert.equal(response.status, 200, `sign-in of ${username}`);
    const body = (await response.json()) as { access_token: string; refresh_token: string };
    return { token: body.access_token, refresh: body.refresh_token };
  }

  /** A member created as a community's backend would: the admin's account/create, then a password sign-in. */
  async member(adminToken: string, username: string, realName?: string): Promise<BrowserMember> {
    const created = await this.api('POST', '/api/v2/account/create/', adminToken, {
      username,
      email: `${username}@example.org`,
      password: PASSWORD,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const member = { id: created.body.id, username, ...(await this.signIn(username, PASSWORD)) };
    if (realName !== undefined) {
      const patched = await this.api('PATCH', `/api/v2/user/${member.id}/`, member.token, { real_name: realName });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
    }
    return member;
  }

  /** Opens the page signed in as `who` (with `query` added to the address) and waits for the provider to know them. */
  async openPage(who: BrowserMember, query: Record<string, string> = {}): Promise<OpenedPage> {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 600 } });
    const page = await context.newPage();
    const opened: OpenedPage = { context, page, problems: [], calls: [] };
    page.on('pageerror', (error: Error) => opened.problems.push(`page error: ${error.message}`));
    page.on('response', (response: any) => {
      const url = new URL(response.url());
      if (url.origin === this.kith) {
        opened.calls.push(`${response.status()} ${response.request().method()} ${url.pathname}${url.search}`);
      }
    });
    const hash = new URLSearchParams({ token: who.token, refresh_token: who.refresh });
    const search = new URLSearchParams({ portal: this.kith, ...query });
    await page.goto(`${this.pageOrigin}/?${search}#${hash}`, { timeout: 30_000 });
    await page.getByTestId('me').filter({ hasText: who.username }).waitFor({ timeout: 30_000 });
    return opened;
  }
}
