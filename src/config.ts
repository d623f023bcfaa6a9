import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The server's configuration: read once from the environment, then frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  /** Connections each process keeps open to PostgreSQL (DATABASE_POOL_SIZE). */
  readonly databasePoolSize: number;
  /** How long opening a PostgreSQL connection, or waiting for a free one in the pool, may take (ms; DATABASE_CONNECT_TIMEOUT). */
  readonly databaseConnectTimeout: number;
  /**
   * How long one statement may run (ms; DATABASE_STATEMENT_TIMEOUT; 0: no limit). PostgreSQL cancels it
   * after this; a connection that stays silent a little longer is closed from our side.
   */
  readonly databaseStatementTimeout: number;
  /** Server processes sharing the port (KITH_WORKERS; more than one needs PostgreSQL). */
  readonly workers: number;
  readonly dataDir: string;
  readonly jwtSecret: string;
  readonly trustProxy: boolean | string;
  readonly logLevel: string;
  readonly production: boolean;
  readonly adminPassword: string | undefined;
  readonly webhooks: WebhookConfig;
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  /** Browser origins allowed to call the API (CORS_ORIGINS); empty: CORS off. `*` allows any origin. */
  readonly corsOrigins: readonly string[];
}

export interface WebhookConfig {
  /** Allow targets on loopback and private networks (never link-local). */
  readonly allowPrivate: boolean;
  /** Seconds to wait before each retry after a failed attempt. */
  readonly retrySchedule: readonly number[];
  /** An endpoint whose every delivery failed for this many seconds is switched off. */
  readonly disableAfter: number;
  /** Run the delivery worker inside the server process. */
  readonly workerInServer: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number, errors: string[]) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    errors.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return Number(raw);
}

/** The file in the data directory that keeps a generated JWT secret between runs. */
export function secretFilePath(dataDir: string): string {
  return join(dataDir, 'jwt-secret');
}

/**
 * Reads and validates every variable; throws one ConfigError naming all bad ones.
 * Outside production a missing JWT_SECRET is generated once and kept in the data directory.
 */
export function loadConfig(env: Env = process.env, options: { createSecret?: boolean } = {}): Config {
  const errors: string[] = [];
  const production = env.NODE_ENV === 'production';
  const port = integer(env, 'PORT', 8000, 0, 65535, errors);
  const host = env.HOST || '127.0.0.1';
  const dataDir = resolve(env.KITH_DATA_DIR || './data');

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    errors.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }

  const databasePoolSize = integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000, errors);
  const databaseConnectTimeout = integer(env, 'DATABASE_CONNECT_TIMEOUT', 2000, 100, 600_000, errors);
  const databaseStatementTimeout = integer(env, 'DATABASE_STATEMENT_TIMEOUT', 10_000, 0, 86_400_000, errors);
  const workers = integer(env, 'KITH_WORKERS', 1, 1, 64, errors);
  if (workers > 1 && databaseUrl === undefined) {
    errors.push('KITH_WORKERS > 1 needs DATABASE_URL (the embedded database allows one process)');
  }

  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);

  let trustProxy: boolean | string = false;
  const rawTrust = env.TRUST_PROXY;
  if (rawTrust === 'true' || rawTrust === '1') trustProxy = true;
  else if (rawTrust === undefined || rawTrust === '' || rawTrust === 'false' || rawTrust === '0') trustProxy = false;
  else if (/^[0-9a-fA-F.:/, ]+$/.test(rawTrust)) trustProxy = rawTrust;
  else errors.push(`TRUST_PROXY must be true, false, or a comma-separated list of addresses/CIDRs (got "${rawTrust}")`);

  const accessTokenTtl = integer(env, 'KITH_ACCESS_TOKEN_TTL', 3600, 1, 31_536_000, errors);
  const refreshTokenTtl = integer(env, 'KITH_REFRESH_TOKEN_TTL', 30 * 86_400, 1, 315_360_000, errors);

  let jwtSecret = env.JWT_SECRET ?? '';
  if (jwtSecret !== '' && jwtSecret.length < 32) errors.push('JWT_SECRET must be at least 32 characters');
  if (jwtSecret === '' && production) errors.push('JWT_SECRET is required when NODE_ENV=production');

  const adminPassword = env.KITH_ADMIN_PASSWORD || undefined;
  const webhooks = webhookConfig(env, errors);

  const corsOrigins = parseOrigins(env.CORS_ORIGINS, errors);

  if (errors.length > 0) throw new ConfigError(`invalid configuration: ${errors.join('; ')}`);

  if (jwtSecret === '') jwtSecret = readOrCreateSecret(dataDir, options.createSecret ?? true);

  return Object.freeze({
    port,
    host,
    databaseUrl,
    databasePoolSize,
    databaseConnectTimeout,
    databaseStatementTimeout,
    workers,
    dataDir,
    jwtSecret,
    trustProxy,
    logLevel,
    production,
    adminPassword,
    webhooks,
    accessTokenTtl,
    refreshTokenTtl,
    corsOrigins,
  });
}

/** CORS_ORIGINS: a comma- or space-separated list of origins (`https://community.example.org`), or `*`. */
function parseOrigins(raw: string | undefined, errors: string[]): readonly string[] {
  const items = (raw ?? '').split(/[\s,]+/).filter(Boolean);
  if (items.includes('*')) {
    if (items.length > 1) errors.push('CORS_ORIGINS must be either * or a list of origins, not both');
    return Object.freeze(['*']);
  }
  const origins: string[] = [];
  for (const item of items) {
    let origin: string | undefined;
    try {
      const url = new URL(item);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === item.replace(/\/$/, '')) {
        origin = url.origin;
      }
    } catch {
      // reported below
    }
    if (origin) origins.push(origin);
    else errors.push(`CORS_ORIGINS: "${item}" is not an origin (scheme://host[:port], no path)`);
  }
  return Object.freeze(origins);
}

function readOrCreateSecret(dataDir: string, create: boolean): string {
  const file = secretFilePath(dataDir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (!create) {
    throw new ConfigError(`JWT_SECRET is not set and ${file} does not exist: start the server once, or set JWT_SECRET`);
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

function boolean(env: Env, name: string, fallback: boolean, errors: string[]): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  errors.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

function webhookConfig(env: Env, errors: string[]): WebhookConfig {
  let retrySchedule: number[] = [5, 25, 125, 625, 3125];
  const raw = env.KITH_WEBHOOK_RETRY_SCHEDULE;
  if (raw !== undefined && raw !== '') {
    const parts = raw.split(',').map((p) => Number(p.trim()));
    if (parts.length > 50 || parts.some((n) => !Number.isFinite(n) || n <= 0 || n > 31_536_000)) {
      errors.push(`KITH_WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of positive seconds (got "${raw}")`);
    } else retrySchedule = parts;
  }
  return Object.freeze({
    allowPrivate: boolean(env, 'KITH_WEBHOOK_ALLOW_PRIVATE', false, errors),
    retrySchedule: Object.freeze(retrySchedule),
    disableAfter: integer(env, 'KITH_WEBHOOK_DISABLE_AFTER', 3 * 86_400, 1, 315_360_000, errors),
    workerInServer: boolean(env, 'KITH_WEBHOOK_WORKER', true, errors),
  });
}
