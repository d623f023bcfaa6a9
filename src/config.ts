import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as util from 'node:util';
import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';

// Each variable's `description` says what a valid value looks like; it is the error message
// ("PORT must be <description>"). What a variable does is told in README.md's configuration table,
// which a test keeps in step with this schema (names and defaults).

const integer = (fallback: number, minimum: number, maximum: number, unit?: string) =>
  Type.Integer({
    default: fallback,
    minimum,
    maximum,
    description: `an integer from ${minimum} to ${maximum}${unit ? ` (${unit})` : ''}`,
  });

const flag = (fallback: boolean) => Type.Boolean({ default: fallback, description: 'true or false (1 or 0)' });

/** A rate: `count/window`, the window a number (1 if left out) and a unit: s, m, h or d. `0/…`: no limit. */
const RATE_PATTERN = '^(0|[1-9][0-9]{0,8})/([1-9][0-9]{0,5})?[smhd]$';
const rate = (fallback: string) =>
  Type.String({
    default: fallback,
    pattern: RATE_PATTERN,
    description: 'count/window, such as 50/1h or 10/15m (units s, m, h, d; 0/1h: no limit)',
  });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `scheme://host[:port]` exactly as the browser sends it in `Origin` (a trailing slash is forgiven). */
function isOrigin(item: string): boolean {
  try {
    const url = new URL(item);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === item.replace(/\/$/, '');
  } catch {
    return false;
  }
}

/**
 * The environment kith reads, one property per variable. Values arrive as strings; an empty string counts
 * as unset. `sensitive` variables are never echoed in an error message.
 */
export const EnvSchema = Type.Object({
  PORT: integer(8000, 0, 65535),
  HOST: Type.String({ default: '127.0.0.1', description: 'an address to listen on' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', sensitive: true, description: 'a postgres:// or postgresql:// URL' }),
  ),
  DATABASE_READ_URL: Type.Optional(
    Type.Array(Type.String({ pattern: '^postgres(ql)?://' }), {
      minItems: 1,
      maxItems: 16,
      sensitive: true,
      description: 'one to 16 postgres:// or postgresql:// URLs, separated by commas or spaces',
    }),
  ),
  DATABASE_POOL_SIZE: integer(10, 1, 1000),
  DATABASE_CONNECT_TIMEOUT: integer(2000, 100, 600_000, 'milliseconds'),
  DATABASE_STATEMENT_TIMEOUT: integer(10_000, 0, 86_400_000, 'milliseconds; 0: no limit'),
  KITH_REQUEST_TIMEOUT: integer(30_000, 1000, 3_600_000, 'milliseconds'),
  KITH_DATA_DIR: Type.String({ default: './data', description: 'a directory' }),
  KITH_ENV_FILE: Type.Optional(Type.String({ description: 'a file of NAME=value lines' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, sensitive: true, description: 'at least 32 characters' })),
  NODE_ENV: Type.Optional(Type.String({ description: 'production, or anything else' })),
  TRUST_PROXY: Type.String({
    default: 'false',
    pattern: '^(true|false|[0-9a-fA-F.:/, ]+)$',
    description: 'true, false, or a comma-separated list of addresses/CIDRs',
  }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info', description: `one of ${LOG_LEVELS.join(', ')}` }),
  KITH_ADMIN_PASSWORD: Type.Optional(Type.String({ sensitive: true, description: 'a password' })),
  KITH_ACCESS_TOKEN_TTL: integer(3600, 1, 31_536_000, 'seconds'),
  KITH_REFRESH_TOKEN_TTL: integer(30 * 86_400, 1, 315_360_000, 'seconds'),
  KITH_WORKERS: integer(1, 1, 64),
  CORS_ORIGINS: Type.Optional(
    Type.Refine(
      Type.Array(
        Type.Refine(Type.String(), (item) => item === '*' || isOrigin(item)),
        {
          description: '* or a comma- or space-separated list of origins (scheme://host[:port], no path), not both',
        },
      ),
      (items) => !items.includes('*') || items.length === 1,
    ),
  ),
  KITH_WEBHOOK_WORKER: flag(true),
  KITH_WEBHOOK_RETRY_SCHEDULE: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 31_536_000 }), {
    default: [5, 25, 125, 625, 3125],
    minItems: 1,
    maxItems: 50,
    description: 'a comma-separated list of at most 50 positive seconds',
  }),
  KITH_WEBHOOK_DISABLE_AFTER: integer(3 * 86_400, 1, 315_360_000, 'seconds'),
  KITH_WEBHOOK_ALLOW_PRIVATE: flag(false),
  KITH_WEBHOOK_TIMEOUT: integer(10, 1, 300, 'seconds'),
  KITH_WEBHOOK_CONCURRENCY: integer(16, 1, 1000),
  KITH_WEBHOOK_ENDPOINT_CONCURRENCY: integer(4, 1, 1000),
  KITH_RETENTION_EVENTS_DAYS: integer(30, 0, 36_500, 'days; 0: keep forever'),
  KITH_RETENTION_DELIVERIES_DAYS: integer(30, 0, 36_500, 'days; 0: keep forever'),
  KITH_RETENTION_NOTIFICATIONS_DAYS: integer(30, 0, 36_500, 'days; 0: keep forever'),
  KITH_METRICS_TOKEN: Type.Optional(
    Type.String({ minLength: 16, sensitive: true, description: 'at least 16 characters' }),
  ),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', sensitive: true, description: 'a redis:// or rediss:// URL' }),
  ),
  KITH_RATE_LIMITS: flag(true),
  KITH_RATE_LIMIT_IP: rate('6000/1m'),
  KITH_RATE_LIMIT_TOKEN_IP: rate('30/5m'),
  KITH_RATE_LIMIT_TOKEN_USERNAME: rate('10/15m'),
  KITH_RATE_LIMIT_CONNECTION_REQUESTS: rate('50/1h'),
  KITH_RATE_LIMIT_FOLLOWS: rate('50/1h'),
  KITH_MAX_PENDING_REQUESTS: integer(1000, 0, 1_000_000, '0: no cap'),
  KITH_TAG_CACHE_ENTRIES: integer(50_000, 0, 10_000_000, '0: off'),
});

/** The environment once validated, defaults filled in. */
export type Env = Static<typeof EnvSchema>;

type RawEnv = Record<string, string | undefined>;
type Variable = keyof Env;
const VARIABLES = Object.keys(EnvSchema.properties) as Variable[];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * A string from the environment as the value its schema asks for, strictly: only digits make an integer,
 * only true/false/1/0 a boolean. (Value.Convert would read "80.5" as 80 and " 80", "1e3" or "TRUE" too.)
 * Anything else stays a string and fails validation, naming the variable.
 */
function fromString(schema: TSchema, raw: string): unknown {
  switch ((schema as { type?: unknown }).type) {
    case 'integer':
      return /^\d+$/.test(raw) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'array':
      if (schema === EnvSchema.properties.CORS_ORIGINS || schema === EnvSchema.properties.DATABASE_READ_URL) {
        return raw.split(/[\s,]+/).filter(Boolean);
      }
      return raw.split(',').map((part) => (part.trim() !== '' && Number.isFinite(Number(part)) ? Number(part) : part));
    default:
      return raw;
  }
}

/** Rules between variables, each checked when the variables it reads are valid on their own. */
const RULES: readonly { reads: readonly Variable[]; error: (env: Env) => string | false }[] = [
  {
    reads: ['NODE_ENV', 'JWT_SECRET'],
    error: (env) =>
      env.NODE_ENV === 'production' &&
      env.JWT_SECRET === undefined &&
      'JWT_SECRET is required when NODE_ENV=production',
  },
  {
    reads: ['KITH_WORKERS', 'DATABASE_URL'],
    error: (env) =>
      env.KITH_WORKERS > 1 &&
      env.DATABASE_URL === undefined &&
      'KITH_WORKERS > 1 needs DATABASE_URL (the embedded database allows one process)',
  },
  {
    reads: ['DATABASE_READ_URL', 'DATABASE_URL'],
    error: (env) =>
      env.DATABASE_READ_URL !== undefined &&
      env.DATABASE_URL === undefined &&
      'DATABASE_READ_URL needs DATABASE_URL (read replicas are replicas of a PostgreSQL primary; the embedded database has none)',
  },
];

/** Validates the environment against EnvSchema; throws one ConfigError naming every bad variable. */
export function parseEnv(raw: RawEnv): Env {
  const value: Record<string, unknown> = {};
  for (const name of VARIABLES) {
    const text = raw[name];
    if (text !== undefined && text !== '') value[name] = fromString(EnvSchema.properties[name], text);
  }
  Value.Default(EnvSchema, value);

  const bad = new Set<Variable>();
  for (const error of Value.Errors(EnvSchema, value)) {
    bad.add(error.instancePath.split('/')[1] as Variable);
  }
  const errors = [...bad].map((name) => {
    const { description, sensitive } = EnvSchema.properties[name] as { description?: string; sensitive?: boolean };
    return `${name} must be ${description}${sensitive ? '' : ` (got "${raw[name]}")`}`;
  });
  for (const rule of RULES) {
    const error = !rule.reads.some((name) => bad.has(name)) && rule.error(value as Env);
    if (error) errors.push(error);
  }
  if (errors.length > 0) throw new ConfigError(`invalid configuration: ${errors.join('; ')}`);
  return value as Env;
}

/** A limit: at most `max` counted requests per `windowMs` for one key. */
export interface Rate {
  readonly max: number;
  readonly windowMs: number;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `count/window` (already valid: RATE_PATTERN) as a Rate; `0/…` is no limit (null). */
export function parseRate(text: string): Rate | null {
  const match = /^(\d+)\/(\d*)([smhd])$/.exec(text);
  if (!match) throw new Error(`not a rate: ${text}`);
  const max = Number(match[1]);
  const windowMs = Number(match[2] || '1') * UNIT_MS[match[3] as keyof typeof UNIT_MS];
  return max === 0 ? null : { max, windowMs };
}

function trustProxy(value: string): boolean | string {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
}

/**
 * The typed configuration: a pure function of the validated environment. `secretFrom` says where
 * JWT_SECRET came from when it is set (the environment, or the env file that gave it).
 */
function toConfig(env: Env, secretFrom: string) {
  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    /** PostgreSQL streaming replicas that serve the graph's reads (see src/db/replicas.ts); empty: none. */
    databaseReadUrls: Object.freeze([...(env.DATABASE_READ_URL ?? [])]),
    /** Connections each process keeps open to PostgreSQL. */
    databasePoolSize: env.DATABASE_POOL_SIZE,
    /** How long opening a PostgreSQL connection, or waiting for a free one in the pool, may take (ms). */
    databaseConnectTimeout: env.DATABASE_CONNECT_TIMEOUT,
    /**
     * How long one statement may run (ms; 0: no limit). PostgreSQL cancels it after this; a connection
     * that stays silent a little longer is closed from our side.
     */
    databaseStatementTimeout: env.DATABASE_STATEMENT_TIMEOUT,
    requestTimeout: env.KITH_REQUEST_TIMEOUT,
    /** Server processes sharing the port (more than one needs PostgreSQL). */
    workers: env.KITH_WORKERS,
    dataDir: resolve(env.KITH_DATA_DIR),
    /** JWT_SECRET as set; undefined: resolveJwtSecret reads (or makes) the one in the data directory. */
    jwtSecret: env.JWT_SECRET,
    /** Where the JWT secret comes from, for people: "JWT_SECRET from …" or the secret file's path. */
    jwtSecretSource:
      env.JWT_SECRET === undefined
        ? `the file ${secretFilePath(resolve(env.KITH_DATA_DIR))}`
        : `JWT_SECRET from ${secretFrom}`,
    trustProxy: trustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    production: env.NODE_ENV === 'production',
    adminPassword: env.KITH_ADMIN_PASSWORD,
    webhooks: Object.freeze({
      /** Allow targets on loopback and private networks (never link-local). */
      allowPrivate: env.KITH_WEBHOOK_ALLOW_PRIVATE,
      /** Seconds to wait before each retry after a failed attempt. */
      retrySchedule: Object.freeze([...env.KITH_WEBHOOK_RETRY_SCHEDULE]),
      /** An endpoint whose every delivery failed for this many seconds is switched off. */
      disableAfter: env.KITH_WEBHOOK_DISABLE_AFTER,
      /** Seconds one delivery (connect, headers, body) may take; a claim's lease is six times this. */
      timeout: env.KITH_WEBHOOK_TIMEOUT,
      /** Deliveries in flight at once in one worker, all endpoints together. */
      concurrency: env.KITH_WEBHOOK_CONCURRENCY,
      /** Deliveries in flight at once in one worker to one endpoint. */
      perEndpoint: env.KITH_WEBHOOK_ENDPOINT_CONCURRENCY,
      /** Run the delivery worker inside the server process. */
      workerInServer: env.KITH_WEBHOOK_WORKER,
    }),
    /** Days rows are kept before the webhook worker prunes them (0: forever); see src/services/retention.ts. */
    retention: Object.freeze({
      eventsDays: env.KITH_RETENTION_EVENTS_DAYS,
      /** Finished deliveries and their attempts. */
      deliveriesDays: env.KITH_RETENTION_DELIVERIES_DAYS,
      /** Read notifications (unread ones are kept). */
      notificationsDays: env.KITH_RETENTION_NOTIFICATIONS_DAYS,
    }),
    accessTokenTtl: env.KITH_ACCESS_TOKEN_TTL,
    refreshTokenTtl: env.KITH_REFRESH_TOKEN_TTL,
    /**
     * The bearer token `GET /metrics` requires; undefined: /metrics is open, or off (404) in production.
     */
    metricsToken: env.KITH_METRICS_TOKEN,
    /** Abuse limits (see docs/security.md); each Rate null: that limit is off. */
    rateLimits: Object.freeze({
      /** false: no rate limit at all (KITH_RATE_LIMITS=false). */
      enabled: env.KITH_RATE_LIMITS,
      /** Where counters are kept: Redis, shared by every process using it; undefined: each process's memory. */
      redisUrl: env.REDIS_URL,
      /** Every request from one address (health probes and /metrics excepted). */
      perIp: parseRate(env.KITH_RATE_LIMIT_IP),
      /** Password grants from one address. */
      tokenPerIp: parseRate(env.KITH_RATE_LIMIT_TOKEN_IP),
      /** Password grants for one username. */
      tokenPerUsername: parseRate(env.KITH_RATE_LIMIT_TOKEN_USERNAME),
      /** Connection requests one member sends. */
      connectionRequests: parseRate(env.KITH_RATE_LIMIT_CONNECTION_REQUESTS),
      /** Follows (and unfollows: the endpoint is a toggle) one member sends. */
      follows: parseRate(env.KITH_RATE_LIMIT_FOLLOWS),
    }),
    /** Pending outgoing connection requests a member may have (0: no cap). */
    maxPendingRequests: env.KITH_MAX_PENDING_REQUESTS,
    /** Tags each process remembers to answer re-reads without the database (http/tag-cache.ts); 0: off. */
    tagCacheEntries: env.KITH_TAG_CACHE_ENTRIES,
    /** Browser origins allowed to call the API; empty: CORS off. `*` allows any origin. */
    corsOrigins: Object.freeze((env.CORS_ORIGINS ?? []).map((item) => (item === '*' ? item : new URL(item).origin))),
  });
}

/** What the environment says: every variable validated and typed, the JWT secret possibly not yet known. */
export type EnvConfig = ReturnType<typeof toConfig>;

/** The configuration the server runs with: the environment's, its JWT secret resolved. */
export type Config = Omit<EnvConfig, 'jwtSecret'> & { readonly jwtSecret: string };

export type WebhookConfig = Config['webhooks'];

export type RateLimitConfig = Config['rateLimits'];
export type RetentionConfig = Config['retention'];

/**
 * Reads and validates every variable; throws one ConfigError naming all bad ones. Pure: it writes nothing
 * (see resolveJwtSecret). Without `env`, reads process.env (the only reader of it) over the env file's
 * variables (see withEnvFile).
 */
export function loadConfig(env?: RawEnv): EnvConfig {
  if (env !== undefined) return toConfig(parseEnv(env), 'the environment');
  const { variables, file, fromFile } = withEnvFile(process.env, process.cwd());
  const secretFrom = file !== undefined && fromFile.includes('JWT_SECRET') ? file : 'the environment';
  return toConfig(parseEnv(variables), secretFrom);
}

/**
 * `env` over the variables of the env file: KITH_ENV_FILE (relative to `cwd`; it must exist) or, when that
 * is unset, `.env` in `cwd` if there is one. A variable set (non-empty) in `env` wins over the file.
 * Returns the merged variables, the file read (absolute) and the names the file gave.
 */
export function withEnvFile(
  env: RawEnv,
  cwd: string,
): { variables: RawEnv; file: string | undefined; fromFile: string[] } {
  const named = env.KITH_ENV_FILE !== undefined && env.KITH_ENV_FILE !== '';
  const file = resolve(cwd, named ? (env.KITH_ENV_FILE as string) : '.env');
  if (!named && !existsSync(file)) return { variables: env, file: undefined, fromFile: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`cannot read the env file ${file} (${reason})${named ? ' named by KITH_ENV_FILE' : ''}`);
  }
  // util.parseEnv (Node's own .env grammar, as `node --env-file` reads it) arrived in Node 20.12.
  if (typeof util.parseEnv !== 'function') {
    throw new ConfigError(`reading the env file ${file} needs Node.js 20.12 or later (this is ${process.version})`);
  }
  const variables: RawEnv = { ...env };
  const fromFile: string[] = [];
  for (const [name, value] of Object.entries(util.parseEnv(text))) {
    if (env[name] !== undefined && env[name] !== '') continue;
    variables[name] = value;
    fromFile.push(name);
  }
  return { variables, file, fromFile };
}

/** What an empty environment gives the webhook worker: the one place its defaults are written. */
export const DEFAULT_WEBHOOKS: WebhookConfig = loadConfig({}).webhooks;

/** The pending-request cap of an empty environment. */
export const DEFAULT_MAX_PENDING_REQUESTS: number = loadConfig({}).maxPendingRequests;

/** The file in the data directory that keeps a generated JWT secret between runs. */
export function secretFilePath(dataDir: string): string {
  return join(dataDir, 'jwt-secret');
}

/**
 * The configuration with its JWT secret: JWT_SECRET when set, else the secret file in the data directory.
 * Without the file, `create` (the server) generates one (mode 0600); otherwise (the CLI) it is a ConfigError.
 * loadConfig already refused a missing JWT_SECRET in production.
 */
export function resolveJwtSecret(config: EnvConfig, { create = true }: { create?: boolean } = {}): Config {
  if (config.jwtSecret !== undefined) return config as Config;
  return Object.freeze({ ...config, jwtSecret: readOrCreateSecret(config.dataDir, create) });
}

function readOrCreateSecret(dataDir: string, create: boolean): string {
  const file = secretFilePath(dataDir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (!create) {
    throw new ConfigError(`JWT_SECRET is not set and ${file} does not exist: start the server once, or set JWT_SECRET`);
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    // KITH_DATA_DIR naming a file (EEXIST), a path through a file (ENOTDIR), no permission (EACCES): one line.
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`KITH_DATA_DIR ${dataDir} is not a directory kith can write to (${reason})`);
  }
  return secret;
}
