import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, EnvSchema, loadConfig, resolveJwtSecret, secretFilePath, withEnvFile } from '../../src/config.js';
import { tempDirs } from '../helpers/temp.js';

const tempDir = tempDirs('kith-config-');

const SECRET = 'a-test-secret-that-is-at-least-32-characters-long';

/** Runs loadConfig and returns the ConfigError it throws. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig({ JWT_SECRET: SECRET, KITH_DATA_DIR: tempDir(), ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message.includes('\n'), false, 'one line');
    return error;
  }
  assert.fail('loadConfig accepted a bad configuration');
}

describe('defaults', () => {
  test('an empty environment (outside production) gives the documented defaults', () => {
    const dir = tempDir();
    const config = loadConfig({ KITH_DATA_DIR: dir });
    assert.equal(config.port, 8000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.dataDir, dir);
    assert.equal(config.trustProxy, false);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.production, false);
    assert.equal(config.databasePoolSize, 10);
    assert.equal(config.databaseConnectTimeout, 2000);
    assert.equal(config.databaseStatementTimeout, 10_000);
    assert.equal(config.workers, 1);
    assert.equal(config.accessTokenTtl, 3600);
    assert.equal(config.refreshTokenTtl, 2_592_000);
    assert.equal(config.adminPassword, undefined);
    assert.deepEqual(config.corsOrigins, []);
    assert.deepEqual(config.webhooks, {
      allowPrivate: false,
      retrySchedule: [5, 25, 125, 625, 3125],
      disableAfter: 259_200,
      timeout: 10,
      concurrency: 16,
      perEndpoint: 4,
      workerInServer: true,
    });
    assert.deepEqual(config.retention, { eventsDays: 30, deliveriesDays: 30, notificationsDays: 30 });
    assert.ok(Object.isFrozen(config.retention));
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.webhooks));
    assert.ok(Object.isFrozen(config.webhooks.retrySchedule));
  });

  test('an empty variable counts as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', LOG_LEVEL: '', KITH_WEBHOOK_WORKER: '', DATABASE_URL: '' });
    assert.equal(config.port, 8000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.webhooks.workerInServer, true);
    assert.equal(config.databaseUrl, undefined);
  });

  test('the webhook and token variables are read', () => {
    const config = loadConfig({
      KITH_ACCESS_TOKEN_TTL: '60',
      KITH_REFRESH_TOKEN_TTL: '120',
      KITH_ADMIN_PASSWORD: 'Admin-pass-1',
      KITH_WEBHOOK_WORKER: '0',
      KITH_WEBHOOK_ALLOW_PRIVATE: 'true',
      KITH_WEBHOOK_RETRY_SCHEDULE: '1, 60,86400',
      KITH_WEBHOOK_DISABLE_AFTER: '600',
      KITH_WEBHOOK_TIMEOUT: '3',
      KITH_WEBHOOK_CONCURRENCY: '50',
      KITH_WEBHOOK_ENDPOINT_CONCURRENCY: '1',
      KITH_RETENTION_EVENTS_DAYS: '0',
      KITH_RETENTION_DELIVERIES_DAYS: '7',
      KITH_RETENTION_NOTIFICATIONS_DAYS: '90',
    });
    assert.equal(config.accessTokenTtl, 60);
    assert.equal(config.refreshTokenTtl, 120);
    assert.equal(config.adminPassword, 'Admin-pass-1');
    assert.deepEqual(config.webhooks, {
      allowPrivate: true,
      retrySchedule: [1, 60, 86_400],
      disableAfter: 600,
      timeout: 3,
      concurrency: 50,
      perEndpoint: 1,
      workerInServer: false,
    });
    assert.deepEqual(config.retention, { eventsDays: 0, deliveriesDays: 7, notificationsDays: 90 });
  });

  test('valid values are read', () => {
    const config = loadConfig({
      PORT: '9123',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@db:5432/kith',
      JWT_SECRET: SECRET,
      TRUST_PROXY: 'true',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
      KITH_DATA_DIR: tempDir(),
      DATABASE_POOL_SIZE: '4',
      DATABASE_CONNECT_TIMEOUT: '750',
      DATABASE_STATEMENT_TIMEOUT: '30000',
      KITH_WORKERS: '2',
    });
    assert.equal(config.port, 9123);
    assert.equal(config.databasePoolSize, 4);
    assert.equal(config.databaseConnectTimeout, 750);
    assert.equal(config.databaseStatementTimeout, 30_000);
    assert.equal(config.workers, 2);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.databaseUrl, 'postgres://u@db:5432/kith');
    assert.equal(config.jwtSecret, SECRET);
    assert.equal(config.trustProxy, true);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.production, true);
  });

  test('KITH_METRICS_TOKEN is read; unset, the config says so', () => {
    assert.equal(
      loadConfig({ KITH_METRICS_TOKEN: 'metrics-token-0123456789' }).metricsToken,
      'metrics-token-0123456789',
    );
    assert.equal(loadConfig({}).metricsToken, undefined);
  });

  test('a KITH_METRICS_TOKEN shorter than 16 characters is refused, never echoed', () => {
    const error = configError({ KITH_METRICS_TOKEN: 'short-token' });
    assert.match(error.message, /KITH_METRICS_TOKEN must be at least 16 characters/);
    assert.doesNotMatch(error.message, /short-token/);
  });

  test('DATABASE_STATEMENT_TIMEOUT=0 switches the statement timeout off', () => {
    assert.equal(loadConfig({ JWT_SECRET: SECRET, DATABASE_STATEMENT_TIMEOUT: '0' }).databaseStatementTimeout, 0);
  });

  test('TRUST_PROXY accepts false/0 and address lists', () => {
    assert.equal(loadConfig({ JWT_SECRET: SECRET, TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ JWT_SECRET: SECRET, TRUST_PROXY: '0' }).trustProxy, false);
    assert.equal(loadConfig({ JWT_SECRET: SECRET, TRUST_PROXY: '1' }).trustProxy, true);
    assert.equal(
      loadConfig({ JWT_SECRET: SECRET, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy,
      '10.0.0.0/8, 127.0.0.1',
    );
  });
});

describe('abuse limits', () => {
  test('are on by default, each with its documented rate, counted in memory', () => {
    const config = loadConfig({ KITH_DATA_DIR: tempDir() });
    assert.deepEqual(config.rateLimits, {
      enabled: true,
      redisUrl: undefined,
      perIp: { max: 6000, windowMs: 60_000 },
      tokenPerIp: { max: 30, windowMs: 300_000 },
      tokenPerUsername: { max: 10, windowMs: 900_000 },
      connectionRequests: { max: 50, windowMs: 3_600_000 },
      follows: { max: 50, windowMs: 3_600_000 },
    });
    assert.equal(config.maxPendingRequests, 1000);
  });

  test('rates are count/window; 0 switches one limit off, KITH_RATE_LIMITS=false all of them', () => {
    const config = loadConfig({
      KITH_DATA_DIR: tempDir(),
      KITH_RATE_LIMIT_IP: '0/1m',
      KITH_RATE_LIMIT_FOLLOWS: '5/s',
      KITH_RATE_LIMIT_CONNECTION_REQUESTS: '200/2d',
      KITH_RATE_LIMITS: 'false',
      KITH_MAX_PENDING_REQUESTS: '0',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
    });
    assert.equal(config.rateLimits.perIp, null);
    assert.deepEqual(config.rateLimits.follows, { max: 5, windowMs: 1000 });
    assert.deepEqual(config.rateLimits.connectionRequests, { max: 200, windowMs: 2 * 86_400_000 });
    assert.equal(config.rateLimits.enabled, false);
    assert.equal(config.rateLimits.redisUrl, 'redis://127.0.0.1:6379/2');
    assert.equal(config.maxPendingRequests, 0);
  });

  test('a rate that is not count/window, or a URL that is not Redis, is named; the URL never echoed', () => {
    for (const bad of ['50', '50/', '50/1w', '-1/1h', '1.5/1h', '50/0h', '50 / 1h']) {
      assert.match(configError({ KITH_RATE_LIMIT_IP: bad }).message, /KITH_RATE_LIMIT_IP must be count\/window/, bad);
    }
    const error = configError({ REDIS_URL: 'http://user:hunter2@cache' });
    assert.match(error.message, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.equal(error.message.includes('hunter2'), false);
  });
});

describe('bad values stop the start with one ConfigError naming the variable', () => {
  for (const port of ['abc', '-1', '65536', '80.5', '8000x']) {
    test(`PORT=${port}`, () => {
      const error = configError({ PORT: port });
      assert.match(error.message, /PORT/);
      assert.ok(error.message.includes(`"${port}"`), error.message);
    });
  }

  for (const level of ['verbose', 'INFO ', 'loud']) {
    test(`LOG_LEVEL=${JSON.stringify(level)}`, () => {
      const error = configError({ LOG_LEVEL: level });
      assert.match(error.message, /LOG_LEVEL/);
      assert.doesNotMatch(error.message, /PORT|TRUST_PROXY|JWT_SECRET/);
    });
  }

  for (const trust of ['yes', 'maybe', 'proxy.example.com']) {
    test(`TRUST_PROXY=${trust}`, () => {
      const error = configError({ TRUST_PROXY: trust });
      assert.match(error.message, /TRUST_PROXY/);
      assert.doesNotMatch(error.message, /PORT|LOG_LEVEL|JWT_SECRET/);
    });
  }

  test('NODE_ENV=production without JWT_SECRET', () => {
    const error = configError({ NODE_ENV: 'production', JWT_SECRET: undefined });
    assert.match(error.message, /JWT_SECRET/);
    assert.match(error.message, /production/);
  });

  test('NODE_ENV=production with an empty JWT_SECRET', () => {
    assert.match(configError({ NODE_ENV: 'production', JWT_SECRET: '' }).message, /JWT_SECRET/);
  });

  test('a JWT_SECRET shorter than 32 characters', () => {
    assert.match(configError({ JWT_SECRET: 'short' }).message, /JWT_SECRET/);
  });

  test('DATABASE_URL that is not a postgres URL', () => {
    assert.match(configError({ DATABASE_URL: 'mysql://x@y/z' }).message, /DATABASE_URL/);
  });

  for (const [name, value] of [
    ['DATABASE_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', 'ten'],
    ['KITH_WORKERS', '0'],
    ['KITH_WORKERS', '65'],
    ['KITH_WORKERS', '2.5'],
    ['DATABASE_CONNECT_TIMEOUT', '0'],
    ['DATABASE_CONNECT_TIMEOUT', '99'],
    ['DATABASE_CONNECT_TIMEOUT', '2s'],
    ['DATABASE_CONNECT_TIMEOUT', '600001'],
    ['DATABASE_STATEMENT_TIMEOUT', '-1'],
    ['DATABASE_STATEMENT_TIMEOUT', '1.5'],
    ['DATABASE_STATEMENT_TIMEOUT', '86400001'],
  ] as const) {
    test(`${name}=${value}`, () => {
      const error = configError({ DATABASE_URL: 'postgres://u@db/kith', [name]: value });
      assert.match(error.message, new RegExp(name));
    });
  }

  test('KITH_WORKERS > 1 on the embedded database', () => {
    assert.match(configError({ KITH_WORKERS: '2' }).message, /KITH_WORKERS > 1 needs DATABASE_URL/);
  });

  test('DATABASE_READ_URL on the embedded database (no DATABASE_URL)', () => {
    const error = configError({ DATABASE_READ_URL: 'postgres://replica.example:5432/kith' });
    assert.match(error.message, /DATABASE_READ_URL needs DATABASE_URL/);
  });

  test('DATABASE_READ_URL: a list of postgres URLs, each checked, never echoed', () => {
    const primary = 'postgres://u@primary:5432/kith';
    const config = loadConfig({
      JWT_SECRET: SECRET,
      DATABASE_URL: primary,
      DATABASE_READ_URL: 'postgres://u:pw1@r1:5432/kith, postgresql://u:pw2@r2/kith',
    });
    assert.deepEqual(config.databaseReadUrls, ['postgres://u:pw1@r1:5432/kith', 'postgresql://u:pw2@r2/kith']);
    assert.deepEqual(loadConfig({ JWT_SECRET: SECRET }).databaseReadUrls, []);
    const error = configError({
      DATABASE_URL: primary,
      DATABASE_READ_URL: 'postgres://u:pw1@r1/kith,mysql://u:pw3@r3',
    });
    assert.match(error.message, /DATABASE_READ_URL must be one to 16 postgres/);
    assert.equal(error.message.includes('pw'), false, 'no password echoed');
  });

  for (const [name, value] of [
    ['KITH_WEBHOOK_WORKER', 'yes'],
    ['KITH_WEBHOOK_ALLOW_PRIVATE', 'TRUE'],
    ['KITH_WEBHOOK_RETRY_SCHEDULE', '5,,25'],
    ['KITH_WEBHOOK_RETRY_SCHEDULE', '5,soon'],
    ['KITH_WEBHOOK_RETRY_SCHEDULE', '0'],
    ['KITH_WEBHOOK_RETRY_SCHEDULE', Array(51).fill('1').join(',')],
    ['KITH_WEBHOOK_DISABLE_AFTER', '0'],
    ['KITH_WEBHOOK_TIMEOUT', '0'],
    ['KITH_WEBHOOK_CONCURRENCY', '0'],
    ['KITH_WEBHOOK_ENDPOINT_CONCURRENCY', '1.5'],
    ['KITH_RETENTION_EVENTS_DAYS', '-1'],
    ['KITH_RETENTION_DELIVERIES_DAYS', '30d'],
    ['KITH_RETENTION_NOTIFICATIONS_DAYS', '36501'],
    ['KITH_ACCESS_TOKEN_TTL', '1h'],
    ['KITH_REFRESH_TOKEN_TTL', '315360001'],
  ] as const) {
    test(`${name}=${value.slice(0, 20)}`, () => {
      const error = configError({ [name]: value });
      assert.ok(error.message.includes(`${name} must be`), error.message);
      assert.ok(error.message.includes(`"${value}"`), error.message);
    });
  }

  test('several bad variables: one error naming each of them', () => {
    const error = configError({ PORT: 'x', LOG_LEVEL: 'y', TRUST_PROXY: 'z' });
    for (const name of ['PORT', 'LOG_LEVEL', 'TRUST_PROXY']) assert.ok(error.message.includes(name), error.message);
  });

  test('three bad variables of different kinds: each named once with its value, nothing else named', () => {
    const error = configError({
      DATABASE_POOL_SIZE: '0',
      KITH_WEBHOOK_ALLOW_PRIVATE: 'perhaps',
      CORS_ORIGINS: 'https://a.example.org/path',
      HOST: '0.0.0.0',
    });
    const named = Object.keys(EnvSchema.properties).filter((name) =>
      new RegExp(`\\b${name} must be`).test(error.message),
    );
    assert.deepEqual(named, ['DATABASE_POOL_SIZE', 'CORS_ORIGINS', 'KITH_WEBHOOK_ALLOW_PRIVATE']);
    for (const value of ['"0"', '"perhaps"', '"https://a.example.org/path"']) {
      assert.ok(error.message.includes(value), error.message);
    }
    assert.equal(error.message.split('; ').length, 3, error.message);
  });

  test('a rule between variables is reported along with the bad variables', () => {
    const error = configError({ NODE_ENV: 'production', JWT_SECRET: undefined, PORT: 'x' });
    assert.match(error.message, /PORT must be/);
    assert.match(error.message, /JWT_SECRET is required when NODE_ENV=production/);
  });

  test('secrets are named but never echoed', () => {
    const error = configError({ JWT_SECRET: 'short-secret', DATABASE_URL: 'mysql://kith:hunter2@db/kith' });
    assert.match(error.message, /JWT_SECRET must be at least 32 characters/);
    assert.match(error.message, /DATABASE_URL must be a postgres/);
    assert.doesNotMatch(error.message, /short-secret|hunter2/);
  });

  test('production without JWT_SECRET writes no secret file', () => {
    const dir = tempDir();
    assert.throws(() => loadConfig({ NODE_ENV: 'production', KITH_DATA_DIR: dir }), ConfigError);
    assert.throws(() => statSync(secretFilePath(dir)), /ENOENT/);
  });
});

describe('the generated JWT secret', () => {
  const secretOf = (env: Record<string, string>, options?: { create?: boolean }) =>
    resolveJwtSecret(loadConfig(env), options).jwtSecret;

  test('loadConfig writes nothing: without JWT_SECRET it leaves the secret to resolveJwtSecret', () => {
    const dir = join(tempDir(), 'nested', 'data');
    assert.equal(loadConfig({ KITH_DATA_DIR: dir }).jwtSecret, undefined);
    assert.throws(() => statSync(dir), /ENOENT/);
  });

  test('is created once in the data directory with mode 0600 and reused', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const first = resolveJwtSecret(loadConfig({ KITH_DATA_DIR: dir }));
    assert.ok(Object.isFrozen(first));
    const file = secretFilePath(dir);
    assert.equal(file, join(dir, 'jwt-secret'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(first.jwtSecret.length >= 32, 'long enough for HS256');
    assert.equal(readFileSync(file, 'utf8').trim(), first.jwtSecret);

    assert.equal(secretOf({ KITH_DATA_DIR: dir }), first.jwtSecret);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('two data directories get two different secrets', () => {
    const a = secretOf({ KITH_DATA_DIR: tempDir() });
    const b = secretOf({ KITH_DATA_DIR: tempDir() });
    assert.notEqual(a, b);
  });

  test('an existing secret file is read (trimmed)', () => {
    const dir = tempDir();
    writeFileSync(secretFilePath(dir), `${SECRET}\n`, { mode: 0o600 });
    assert.equal(secretOf({ KITH_DATA_DIR: dir }), SECRET);
    assert.equal(secretOf({ KITH_DATA_DIR: dir }, { create: false }), SECRET);
  });

  test('JWT_SECRET wins over the file and no file is written', () => {
    const dir = tempDir();
    assert.equal(secretOf({ KITH_DATA_DIR: dir, JWT_SECRET: SECRET }), SECRET);
    assert.throws(() => statSync(secretFilePath(dir)), /ENOENT/);
  });

  test('create: false (the CLI) without a file is a ConfigError naming JWT_SECRET, and writes nothing', () => {
    const dir = tempDir();
    assert.throws(
      () => secretOf({ KITH_DATA_DIR: dir }, { create: false }),
      (error: unknown) => error instanceof ConfigError && /JWT_SECRET/.test(error.message),
    );
    assert.throws(() => statSync(secretFilePath(dir)), /ENOENT/);
  });
});

describe('a data directory kith cannot use', () => {
  test('KITH_DATA_DIR naming a file, or a path through a file, is one ConfigError naming it', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    for (const [dir, code] of [
      [file, 'EEXIST'],
      [join(file, 'below'), 'ENOTDIR'],
    ] as const) {
      assert.throws(
        () => resolveJwtSecret(loadConfig({ KITH_DATA_DIR: dir })),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message === `KITH_DATA_DIR ${dir} is not a directory kith can write to (${code})`,
      );
    }
  });
});

describe('the env file', () => {
  test('.env in the working directory is read; a variable set in the environment wins over it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '# comment\nPORT=9001\nHOST=0.0.0.0\nLOG_LEVEL="debug"\nexport_me=1\n');
    const { variables, file, fromFile } = withEnvFile({ HOST: '127.0.0.2', LOG_LEVEL: '' }, dir);
    assert.equal(file, join(dir, '.env'));
    assert.deepEqual(fromFile.sort(), ['LOG_LEVEL', 'PORT', 'export_me']);
    const config = loadConfig(variables);
    assert.equal(config.port, 9001);
    assert.equal(config.host, '127.0.0.2');
    assert.equal(config.logLevel, 'debug', 'an empty variable counts as unset, so the file gives it');
  });

  test('without .env nothing is read', () => {
    const env = { PORT: '1234' };
    assert.deepEqual(withEnvFile(env, tempDir()), { variables: env, file: undefined, fromFile: [] });
  });

  test('KITH_ENV_FILE names another file (relative to the working directory), read instead of .env', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'PORT=9001\n');
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc', 'kith.env'), 'PORT=9002\n');
    const { variables, file } = withEnvFile({ KITH_ENV_FILE: 'etc/kith.env' }, dir);
    assert.equal(file, join(dir, 'etc', 'kith.env'));
    assert.equal(loadConfig(variables).port, 9002);
  });

  test('a KITH_ENV_FILE that cannot be read is a ConfigError naming it', () => {
    const dir = tempDir();
    for (const [name, code] of [
      ['missing.env', 'ENOENT'],
      ['.', 'EISDIR'],
    ] as const) {
      assert.throws(
        () => withEnvFile({ KITH_ENV_FILE: name }, dir),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message === `cannot read the env file ${join(dir, name)} (${code}) named by KITH_ENV_FILE`,
      );
    }
  });
});

describe("README.md's configuration table", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('## Configuration')),
  );
  const rows = new Map(
    [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]*) \|/gm)].map(([, name, fallback]) => [
      name ?? '',
      fallback?.trim(),
    ]),
  );
  const schema = EnvSchema.properties as Record<string, { default?: unknown }>;

  test('lists exactly the variables of the schema', () => {
    assert.ok(rows.size > 0, 'the table was found');
    assert.deepEqual([...rows.keys()].sort(), Object.keys(schema).sort());
  });

  test('states each schema default (a variable without one is documented as unset or generated)', () => {
    for (const [name, documented] of rows) {
      const fallback = schema[name]?.default;
      if (fallback === undefined) assert.match(documented ?? '', /^(unset|generated)/, name);
      else {
        const text = Array.isArray(fallback) ? fallback.join(',') : String(fallback);
        assert.ok(documented?.startsWith(`\`${text}\``), `${name}: README says ${documented}, the schema ${text}`);
      }
    }
  });
});
