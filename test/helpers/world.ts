import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { type AppOptions, buildApp } from '../../src/app.js';
import { openAndPrepare } from '../../src/bootstrap.js';
import { DEFAULT_WEBHOOKS, type WebhookConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { insertUser } from '../../src/db/repositories/users.js';
import type { NewUser, UserRow } from '../../src/db/schema.js';
import { signAccessToken } from '../../src/services/tokens.js';

/** The defaults, but tests deliver to receivers on 127.0.0.1 (private targets allowed) and run workers themselves. */
export const TEST_WEBHOOKS: WebhookConfig = { ...DEFAULT_WEBHOOKS, allowPrivate: true, workerInServer: false };

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

let counter = 0;
/** A name no other test uses. */
export const unique = (prefix = 'u') => `${prefix}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;

export interface ThrowawayDatabase {
  name: string;
  url: string;
  drop: () => Promise<void>;
}

/** A new, empty PostgreSQL database on the server of `baseUrl`, named `prefix`_pid_random; `drop` removes it (WITH FORCE). */
export async function throwawayDatabase(baseUrl: string, prefix = 'kith_test'): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const onServer = async (statement: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await onServer(`CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * A throwaway PostgreSQL database for one test file when DATABASE_URL is set (so files can run in
 * parallel and switch community settings freely); otherwise an in-memory PGlite database.
 */
export async function openTestDatabase(): Promise<DatabaseHandle & { databaseUrl?: string }> {
  const base = process.env.DATABASE_URL;
  if (!base)
    return openAndPrepare({ databaseUrl: undefined, dataDir: '', adminPassword: 'Admin-pass-1' }, { memory: true });
  const database = await throwawayDatabase(base);
  const handle = await openAndPrepare({ databaseUrl: database.url, dataDir: '', adminPassword: 'Admin-pass-1' });
  return {
    ...handle,
    databaseUrl: database.url,
    close: async () => {
      await handle.close();
      await database.drop();
    },
  };
}

/** A member made by `World.user`, with an access token. */
export type Member = Awaited<ReturnType<World['user']>>;

/** Awaits `response` and checks its status (200 unless told), naming the one it got and its body if not. */
export async function ok(response: Promise<ApiResponse> | ApiResponse, status = 200) {
  const r = await response;
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r;
}

/** A new active member with a unique username, straight into the database, and an access token. */
export async function insertMember(
  db: DatabaseHandle['db'],
  overrides: Partial<NewUser> = {},
): Promise<UserRow & { token: string }> {
  const row = await insertUser(db, {
    username: unique(),
    email: null,
    ext_id: null,
    role: null,
    password_hash: null,
    avatar: null,
    cover: null,
    date_of_birth: null,
    ...overrides,
  });
  return { ...row, token: await signAccessToken(JWT_SECRET, row.id, 3600) };
}

/** Resolves once some other backend of the world's database waits for a lock (bounded: 10 s; PostgreSQL). */
export async function someoneWaitsForALock(db: DatabaseHandle['db']) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
    if (rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('nobody waited for a lock within 10 s');
}

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send this raw text as the body instead of JSON. */
  raw?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A running kith on 127.0.0.1 over its own database, with factories for users and tokens. */
export class World {
  private constructor(
    readonly app: FastifyInstance,
    readonly handle: DatabaseHandle,
    readonly baseUrl: string,
    private readonly ownsDatabase = true,
  ) {}

  /**
   * `config`: the settings a test needs over the tests' defaults (/metrics open, outside production,
   * no rate limits: tests send many requests from one member and one address); `options`: the rest
   * of the app's options (a rate-limit namespace, a logger).
   */
  static async start(
    config: Partial<AppOptions['config']> = {},
    options: Pick<AppOptions, 'rateLimitNamespace' | 'logger'> = {},
  ): Promise<World> {
    const handle = await openTestDatabase();
    const { app, baseUrl } = await World.serve(handle, config, options);
    return new World(app, handle, baseUrl);
  }

  private static async serve(
    handle: DatabaseHandle & { databaseUrl?: string },
    config: Partial<AppOptions['config']>,
    options: Pick<AppOptions, 'rateLimitNamespace' | 'logger'>,
  ) {
    const app = await buildApp({
      config: { jwtSecret: JWT_SECRET, accessTokenTtl: 3600, refreshTokenTtl: 86_400, trustProxy: false, ...config },
      db: handle.db,
      pool: handle.pool,
      realtime: { handle, databaseUrl: handle.databaseUrl, pingIntervalMs: 1000 },
      tagCache: { handle, databaseUrl: handle.databaseUrl, entries: 10_000 },
      webhooks: TEST_WEBHOOKS,
      ...options,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { app, baseUrl: `http://127.0.0.1:${port}` };
  }

  /**
   * Another server on this world's database with settings of its own (as another process would be):
   * a test of server settings need not migrate a database each time. Closing it leaves the database open.
   */
  async server(
    config: Partial<AppOptions['config']> = {},
    options: Pick<AppOptions, 'rateLimitNamespace' | 'logger'> = {},
  ): Promise<World> {
    const { app, baseUrl } = await World.serve(this.handle, config, options);
    return new World(app, this.handle, baseUrl, false);
  }

  get db() {
    return this.handle.db;
  }

  async close() {
    await this.app.close();
    if (this.ownsDatabase) await this.handle.close();
  }

  /** A new active member with a unique username. */
  user(overrides: Partial<NewUser> = {}): Promise<UserRow & { token: string }> {
    return insertMember(this.db, overrides);
  }

  adminToken() {
    return signAccessToken(JWT_SECRET, 1, 3600);
  }

  /** An access token for the member as the token endpoint would issue it now (after their `tokens_not_before`). */
  async tokenFor(id: number) {
    const row = await this.db
      .selectFrom('users')
      .select('tokens_not_before')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return signAccessToken(JWT_SECRET, id, 3600, row.tokens_not_before);
  }

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(path.startsWith('http') ? path : `${this.baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    if (text !== '' && response.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get = <T = any>(path: string, token?: string | null) => this.request<T>('GET', path, { token: token ?? null });
  post = <T = any>(path: string, token?: string | null, body?: unknown) =>
    this.request<T>('POST', path, { token: token ?? null, body });

  /** A friendship action as the SelfCommunity SDK sends it (JSON content type, empty body). */
  act(token: string, userId: number, action: string) {
    const path =
      action === 'mark_seen'
        ? `/api/v2/user/${userId}/connection_requests/mark_seen/`
        : `/api/v2/user/${userId}/connection/${action}/`;
    return this.request('POST', path, { token, headers: { 'content-type': 'application/json' }, raw: '' });
  }

  async setPreferences(values: Record<string, unknown>) {
    const response = await this.request('PATCH', '/api/v2/dynamic_preference/', {
      token: await this.adminToken(),
      body: values,
    });
    if (response.status !== 200) throw new Error(`setPreferences failed: ${response.status} ${response.text}`);
  }
}
