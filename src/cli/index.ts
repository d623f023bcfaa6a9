import { parseArgs } from 'node:util';
import { openAndPrepare } from '../bootstrap.js';
import { ConfigError, loadConfig } from '../config.js';
import type { DatabaseHandle } from '../db/database.js';
import { seedCommunity } from '../db/seed.js';
import { AppError } from '../domain/errors.js';
import { presentMe } from '../http/presenters/users.js';
import { signAccessToken } from '../services/tokens.js';
import { createUser } from '../services/users.js';
import { WebhookWorker } from '../webhooks/worker.js';

const HELP = `kith — a connections server for communities (SelfCommunity API v2)

Usage: kith <command> [options]

Commands:
  migrate                                  apply pending database migrations
  user create --username U [--role admin|moderator|editor] [--password P] [--email E]
                                           create a user and print it as JSON
  token --user-id N [--ttl SECONDS]        print a signed access token (needs only the secret)
  worker                                   deliver webhooks only (no HTTP); several may run at once
  seed --users N [--celebrity-requests M] [--seed S]
                                           fill the database with a reproducible community and print
                                           a typical member and the celebrity as JSON
  help                                     show this help

Configuration comes from the environment (see the README): DATABASE_URL, KITH_DATA_DIR, JWT_SECRET, ...
With the embedded database (no DATABASE_URL), commands that touch data need the server stopped:
the embedded database allows one process at a time. Use the HTTP API while the server runs.
`;

class UsageError extends Error {}

/** One stderr line: the message, then the details (an error as its message and code: JSON.stringify would print `{}`). */
function logLine(obj: object, msg: string) {
  const details = Object.fromEntries(
    Object.entries(obj).map(([key, value]) => [
      key,
      value instanceof Error ? { message: value.message, code: (value as { code?: unknown }).code } : value,
    ]),
  );
  process.stderr.write(`${msg} ${JSON.stringify(details)}\n`);
}

function fail(message: string): never {
  process.stderr.write(`kith: ${message}\n`);
  process.exit(1);
}

/**
 * Runs `run` on the prepared database, then closes it. Maintenance commands (migrate, seed) run with no
 * statement timeout; `serving` (the worker) keeps the configured one, as the server does.
 */
async function withDatabase<T>(
  run: (handle: DatabaseHandle) => Promise<T>,
  options: { serving?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  let handle: DatabaseHandle;
  try {
    handle = await openAndPrepare(options.serving ? config : { ...config, databaseStatementTimeout: 0 });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!config.databaseUrl) {
      fail(
        `cannot open the embedded database in ${config.dataDir} (${message}). ` +
          'It allows one process at a time: stop the server first, or use the HTTP API.',
      );
    }
    fail(`cannot open the database: ${message}`);
  }
  try {
    return await run(handle);
  } finally {
    await handle.close();
  }
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case 'migrate':
      await withDatabase(async () => undefined);
      process.stdout.write('migrations applied\n');
      return;
    case 'user': {
      const [sub, ...args] = rest;
      if (sub !== 'create')
        throw new UsageError('usage: kith user create --username U [--role R] [--password P] [--email E]');
      const { values } = parseArgs({
        args,
        options: {
          username: { type: 'string' },
          role: { type: 'string' },
          password: { type: 'string' },
          email: { type: 'string' },
        },
      });
      if (!values.username) throw new UsageError('--username is required');
      const role = values.role ?? null;
      if (role !== null && role !== 'admin' && role !== 'moderator' && role !== 'editor') {
        throw new UsageError('--role must be admin, moderator or editor');
      }
      if (!/^[A-Za-z0-9_-]{1,255}$/.test(values.username)) {
        throw new UsageError('--username may hold only letters, digits, _ and - (at most 255)');
      }
      const user = await withDatabase(({ db }) =>
        createUser(db, { username: values.username!, role, password: values.password, email: values.email ?? null }),
      );
      process.stdout.write(`${JSON.stringify(presentMe(user), null, 2)}\n`);
      return;
    }
    case 'token': {
      const { values } = parseArgs({ args: rest, options: { 'user-id': { type: 'string' }, ttl: { type: 'string' } } });
      const userId = Number(values['user-id']);
      if (!values['user-id'] || !Number.isSafeInteger(userId) || userId < 1) {
        throw new UsageError('--user-id must be a positive integer');
      }
      const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isSafeInteger(ttl) || ttl < 1) throw new UsageError('--ttl must be a positive number of seconds');
      const config = loadConfig(process.env, { createSecret: false });
      process.stdout.write(`${await signAccessToken(config.jwtSecret, userId, ttl)}\n`);
      return;
    }
    case 'seed': {
      const { values } = parseArgs({
        args: rest,
        options: {
          users: { type: 'string' },
          'celebrity-requests': { type: 'string' },
          seed: { type: 'string' },
          quiet: { type: 'boolean' },
        },
      });
      const count = (name: string, raw: string | undefined, fallback: number) => {
        const value = raw === undefined ? fallback : Number(raw);
        if (!Number.isSafeInteger(value) || value < 0) throw new UsageError(`--${name} must be a whole number`);
        return value;
      };
      const users = count('users', values.users, Number.NaN);
      if (values.users === undefined || users < 2) throw new UsageError('--users N (at least 2) is required');
      const celebrityRequests = count(
        'celebrity-requests',
        values['celebrity-requests'],
        Math.min(users - 1, Math.floor(users / 2)),
      );
      if (celebrityRequests > users - 1) throw new UsageError('--celebrity-requests must be less than --users');
      const seed = count('seed', values.seed, 1);
      const log = values.quiet ? undefined : (message: string) => process.stderr.write(`kith seed: ${message}\n`);
      const result = await withDatabase(({ db }) => seedCommunity(db, { users, celebrityRequests, seed, log }));
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      const { wrongCounters, overlaps, wrongDays, staleJson } = result.check;
      if (wrongCounters + overlaps + wrongDays + staleJson > 0)
        fail('the seeded data failed its check (see "check" above)');
      return;
    }
    case 'worker': {
      const config = loadConfig();
      if (!config.databaseUrl) {
        throw new UsageError(
          'kith worker needs DATABASE_URL: the embedded database allows one process, and the server runs a worker itself',
        );
      }
      await withDatabase(
        async (handle) => {
          const log = { error: logLine, warn: logLine };
          const worker = new WebhookWorker(handle.db, { config: config.webhooks, log });
          await worker.start(handle, config.databaseUrl);
          process.stdout.write('kith worker: delivering webhooks (SIGTERM to stop)\n');
          await new Promise<void>((resolve) => {
            process.once('SIGTERM', resolve);
            process.once('SIGINT', resolve);
          });
          await worker.stop();
        },
        { serving: true },
      );
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"; see kith --help`);
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) fail(error.message);
  if (error instanceof AppError) fail(`${error.detail}${error.extra ? ` ${JSON.stringify(error.extra)}` : ''}`);
  if (
    error instanceof Error &&
    error.name === 'TypeError' &&
    'code' in error &&
    String(error.code).startsWith('ERR_PARSE_ARGS')
  ) {
    fail(error.message);
  }
  throw error;
}
