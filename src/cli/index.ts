import { type ParseArgsConfig, parseArgs } from 'node:util';
import { openAndPrepare } from '../bootstrap.js';
import { ConfigError, loadConfig, resolveJwtSecret } from '../config.js';
import { modeOf, presentMe } from '../contracts/user.js';
import { DataDirInUseError } from '../db/data-dir-lock.js';
import type { DatabaseHandle } from '../db/database.js';
import { loadCommunity } from '../db/repositories/users.js';
import { seedCommunity } from '../db/seed.js';
import { AppError } from '../domain/errors.js';
import { isRole, isUsername, ROLES } from '../domain/users.js';
import { signAccessToken } from '../services/tokens.js';
import { createUser } from '../services/users.js';
import { VERSION } from '../version.js';
import { WebhookWorker } from '../webhooks/worker.js';

const HELP = `kith — a connections server for communities (SelfCommunity API v2)

Usage: kith <command> [options]
       kith <command> --help               show one command's usage
       kith --version                      print kith's version

Commands:
  migrate                                  apply pending database migrations
  user create --username U [--role admin|moderator|editor] [--password P] [--email E]
                                           create a user and print it as JSON
  token --user-id N [--ttl SECONDS]        print a signed access token (needs only the secret)
  worker                                   deliver webhooks only (no HTTP); several may run at once
  seed --users N [--celebrity-requests M] [--seed S] [--quiet]
                                           fill the database with a reproducible community and print
                                           a typical member and the celebrity as JSON
  help [command]                           show this help, or one command's usage

Configuration comes from the environment (see the README): DATABASE_URL, KITH_DATA_DIR, JWT_SECRET, ...
The embedded database (no DATABASE_URL) is locked by the process that opens it: while the server runs,
commands that touch data refuse to start and name the server's process. Use the HTTP API meanwhile.
`;

const USAGE = {
  migrate: `Usage: kith migrate

Applies pending database migrations (the server also applies them at every start).
`,
  user: `Usage: kith user create --username U [--role admin|moderator|editor] [--password P] [--email E]

Creates a user and prints it as JSON. Without --password the user cannot log in with a password.
`,
  token: `Usage: kith token --user-id N [--ttl SECONDS]

Prints a signed access token for user N, valid for SECONDS (default 3600). Needs only the JWT
secret (JWT_SECRET, or the secret file in KITH_DATA_DIR), so it works while the server runs; says
on stderr which one it used. With NODE_ENV=production only JWT_SECRET is used.
`,
  worker: `Usage: kith worker

Delivers webhooks only (no HTTP) until SIGTERM or SIGINT. Needs DATABASE_URL; several may run at once.
`,
  seed: `Usage: kith seed --users N [--celebrity-requests M] [--seed S] [--quiet]

Fills the database with a reproducible community of N users (at least 2), M of whom (default
min(N - 1, N / 2)) send a pending request to the last one, the celebrity; --seed S (default 1)
picks another community of the same shape. Prints a typical member and the celebrity as JSON;
progress goes to stderr unless --quiet.
`,
} as const;

type CommandName = keyof typeof USAGE;

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

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses one command's arguments strictly: an unknown option or a stray argument is a UsageError
 * naming it. Returns undefined when --help was given (the usage is then printed), so the command
 * stops before reading the configuration or opening the database.
 */
function parseCommand<O extends Options>(command: CommandName, args: string[], options: O, allowPositionals = false) {
  const parsed = usageErrors(command, () =>
    parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } as const },
      strict: true,
      allowPositionals,
    }),
  );
  // parseArgs's types lose the spread of a generic O; --help is in the options all the same.
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(USAGE[command]);
    return undefined;
  }
  return parsed;
}

/** Runs parseArgs, turning its errors into one line that names the argument and points at --help. */
function usageErrors<T>(command: CommandName, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    // Node's first sentence names the argument ("Unknown option '--nope'"); the rest is advice
    // written for another program's users.
    const first = error.message.split(/\.\s|\n/)[0];
    throw new UsageError(`${first}; see kith ${command} --help`);
  }
}

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');
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
    // The in-use message names the holder and what to do; anything else is reported as it came.
    if (error instanceof DataDirInUseError) fail(error.message);
    fail(`cannot open the database: ${error instanceof Error ? error.message : String(error)}`);
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
    case '--help':
    case '-h':
    case 'help': {
      const [topic, ...extra] = rest;
      if (topic === undefined) process.stdout.write(HELP);
      else if (extra.length === 0 && isCommand(topic)) process.stdout.write(USAGE[topic]);
      else throw new UsageError(`no help on "${rest.join(' ')}"; see kith --help`);
      return;
    }
    case '--version':
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" after --version`);
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'migrate':
      if (!parseCommand('migrate', rest, {})) return;
      await withDatabase(async () => undefined);
      process.stdout.write('migrations applied\n');
      return;
    case 'user': {
      const parsed = parseCommand(
        'user',
        rest,
        {
          username: { type: 'string' },
          role: { type: 'string' },
          password: { type: 'string' },
          email: { type: 'string' },
        },
        true,
      );
      if (!parsed) return;
      const { values, positionals } = parsed;
      const [sub, ...extra] = positionals;
      if (sub !== 'create') {
        throw new UsageError(
          sub === undefined
            ? 'kith user needs a subcommand (create); see kith user --help'
            : `unknown subcommand "user ${sub}"; see kith user --help`,
        );
      }
      if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"; see kith user --help`);
      if (!values.username) throw new UsageError('--username is required');
      const role = values.role ?? null;
      if (role !== null && !isRole(role))
        throw new UsageError(`--role must be ${ROLES.slice(0, -1).join(', ')} or ${ROLES.at(-1)}`);
      if (!isUsername(values.username)) {
        throw new UsageError('--username may hold only letters, digits, _ and - (at most 255)');
      }
      const username = values.username;
      const { user, community } = await withDatabase(async ({ db }) => ({
        user: await createUser(db, { username, role, password: values.password, email: values.email ?? null }),
        community: await loadCommunity(db),
      }));
      process.stdout.write(`${JSON.stringify(presentMe(user, modeOf(community)), null, 2)}\n`);
      return;
    }
    case 'token': {
      const parsed = parseCommand('token', rest, { 'user-id': { type: 'string' }, ttl: { type: 'string' } });
      if (!parsed) return;
      const { values } = parsed;
      const userId = Number(values['user-id']);
      if (!values['user-id'] || !Number.isSafeInteger(userId) || userId < 1) {
        throw new UsageError('--user-id must be a positive integer');
      }
      const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isSafeInteger(ttl) || ttl < 1) throw new UsageError('--ttl must be a positive number of seconds');
      // Reads the server's secret file but never makes one: a token signed with a secret no server knows is useless.
      // In production the secret must be JWT_SECRET (loadConfig refuses otherwise): no file is guessed at.
      const config = resolveJwtSecret(loadConfig(), { create: false });
      process.stderr.write(`kith token: signed with ${config.jwtSecretSource}\n`);
      process.stdout.write(`${await signAccessToken(config.jwtSecret, userId, ttl)}\n`);
      return;
    }
    case 'seed': {
      const parsed = parseCommand('seed', rest, {
        users: { type: 'string' },
        'celebrity-requests': { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean' },
      });
      if (!parsed) return;
      const { values } = parsed;
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
      if (!parseCommand('worker', rest, {})) return;
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

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(USAGE, name);
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) fail(error.message);
  if (error instanceof AppError) fail(`${error.detail}${error.extra ? ` ${JSON.stringify(error.extra)}` : ''}`);
  throw error;
}
