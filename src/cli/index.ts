import { type ParseArgsConfig, parseArgs } from 'node:util';
import { openAndPrepare, type Prepared } from '../bootstrap.js';
import { ConfigError, loadConfig, resolveJwtSecret } from '../config.js';
import { modeOf, presentMe } from '../contracts/user.js';
import { DataDirInUseError } from '../db/data-dir-lock.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrationStatus } from '../db/migrate.js';
import { loadCommunity } from '../db/repositories/users.js';
import { defaultCelebrityFollowers, existingMembers, SEED_PHASES, seedCommunity } from '../db/seed.js';
import { AppError } from '../domain/errors.js';
import { isRole, isUsername, ROLES, type Role } from '../domain/users.js';
import { checkGraph, type GraphCheck, repairGraph } from '../services/graph-check.js';
import * as members from '../services/member-admin.js';
import { signAccessToken } from '../services/tokens.js';
import { createUser, passwordProblem } from '../services/users.js';
import { VERSION } from '../version.js';
import { WebhookWorker } from '../webhooks/worker.js';

const HELP = `kith — a connections server for communities (SelfCommunity API v2)

Usage: kith <command> [options]
       kith <command> --help               show one command's usage
       kith --version                      print kith's version

Commands:
  migrate [status]                         apply pending database migrations, or list them all
  user create --username U [--role admin|moderator|editor] [--password P] [--email E]
                                           create a user and print it as JSON
  user list [--limit N] [--offset N] [--search S]
                                           list members (JSON lines)
  user show|deactivate|activate|demote|delete|unblock (--id N | --username U)
  user block (--id N | --username U) [--days N]
  user promote (--id N | --username U) [--role admin|moderator|editor]
  user set-password (--id N | --username U) [--password-stdin]
                                           administer one member (see kith user --help)
  token --user-id N [--ttl SECONDS]        print a signed access token (needs only the secret)
  worker                                   deliver webhooks only (no HTTP); several may run at once
  seed --users N [--celebrity-requests M] [--celebrity-followers F] [--seed S] [--quiet]
                                           fill the database with a reproducible community and print
                                           a typical member and the celebrity as JSON
  check [--repair] [--json] [--limit N]   verify every invariant of the stored graph and print each
                                           violation; --repair recomputes derived data first
  help [command]                           show this help, or one command's usage

Configuration comes from the environment (see the README): DATABASE_URL, KITH_DATA_DIR, JWT_SECRET, ...
The embedded database (no DATABASE_URL) is locked by the process that opens it: while the server runs,
commands that touch data refuse to start and name the server's process. Use the HTTP API meanwhile.
`;

const USAGE = {
  migrate: `Usage: kith migrate          apply pending migrations and print their names ("already up to date": none)
       kith migrate status   list every migration: applied (with when) or pending; changes nothing

The server also applies pending migrations at every start.
`,
  user: `Usage: kith user <subcommand> [options]      (the subcommand comes first)

  create --username U [--role admin|moderator|editor] [--password P] [--email E]
      Creates a member and prints them as JSON. Without --password they cannot log in with a password.
  list [--limit N] [--offset N] [--search S]
      Prints members in id order, inactive ones included, as JSON lines (one member a line):
      {"id","username","role","active","blocked","date_joined"}; the total goes to stderr. --limit defaults
      to 50; --search S matches the username or real name, case-insensitively.
  show (--id N | --username U)
      Prints the member as an administrator sees them, as JSON (never the password hash).
  deactivate (--id N | --username U)
      The member can no longer log in, and their tokens are refused from their next request on;
      their connections, requests (both ways) and follows are dissolved as delete does (below).
  activate (--id N | --username U)
      Gives a deactivated member their account back (not the dissolved relations).
  block (--id N | --username U) [--days N]
      A moderation block (as PATCH /api/v2/moderation/user/{id}/ with status b): the member is
      withdrawn as deactivate does, for N days (then the server lifts the block) or for ever.
      Blocking a blocked member starts a new block from now.
  unblock (--id N | --username U)
      Lifts a block: the account comes back, not the dissolved relations. A blocked member is
      unblocked, not activated; a deactivated one is activated, not unblocked.
  promote (--id N | --username U) [--role admin|moderator|editor]
      Gives the member a role (default admin).
  demote (--id N | --username U)
      Takes the member's role away.
  set-password (--id N | --username U) [--password-stdin]
      Reads the new password from stdin (one line; the final newline is dropped), or on a terminal
      asks for it twice without echo; --password-stdin reads stdin even from a terminal. Never from
      the command line: other users of the machine see arguments in ps. The password needs 8 to
      128 characters and 3 of: lower case, upper case, digits, other characters. Sessions already
      open stay open (deactivate ends them). This is how to change the administrator's password
      after the first start: KITH_ADMIN_PASSWORD is only read when the administrator is created.
  delete (--id N | --username U)
      Deletes the member for good, in one transaction: their connections, requests (both ways) and
      follows are dissolved, each with its event (nobody is notified), and the notifications they
      received or caused are deleted; their tokens stop working at once; their personal fields are
      erased and the row stays as a tombstone named deleted_<id>, so the id is never reused.

--username is case-insensitive. The last active administrator can be neither deactivated, demoted
nor deleted. A deleted member cannot be brought back; deactivate a member to keep them.
`,
  token: `Usage: kith token --user-id N [--ttl SECONDS]

Prints a signed access token for user N, valid for SECONDS (default 3600). Needs only the JWT
secret (JWT_SECRET, or the secret file in KITH_DATA_DIR), so it works while the server runs; says
on stderr which one it used. With NODE_ENV=production only JWT_SECRET is used.
`,
  worker: `Usage: kith worker

Delivers webhooks only (no HTTP) until SIGTERM or SIGINT. Needs DATABASE_URL; several may run at once.
`,
  seed: `Usage: kith seed --users N [--celebrity-requests M] [--celebrity-followers F] [--seed S] [--quiet]
                 [--append] [--allow-production]

Fills the database with a reproducible community of N users (at least 2), M of whom (default
min(N - 1, N / 2)) send a pending request to the last one, the celebrity, and F of whom (default
min(N - 1, 150000)) follow it; the others follow about 5 members each, popular ones more often.
--seed S (default 1) picks another community of the same shape. Prints a typical member and the
celebrity as JSON; progress goes to stderr unless --quiet (on a terminal with the time elapsed and
an estimate of the time left). It refuses a database that already holds members unless --append,
and NODE_ENV=production unless --allow-production.
`,
  check: `Usage: kith check [--repair] [--json] [--limit N]

Verifies every invariant of the stored graph in one snapshot and prints each one that fails with its
first N offending rows (--limit, default 10): counters equal the rows they count, per-day counts
equal the requests and follows, every member's stored list JSON is what the renderer prints now, no
derived row of a missing member (all derived data); no row naming a missing member, no self-edge,
no request between connected members, at most one request per pair, no one-sided connection, no
edge of a deleted member. Exits 1 when any invariant fails, 0 when all hold.

--repair first recomputes the derived data from the source rows, in one transaction that holds
writers back meanwhile (readers go on), prints how many rows it changed, then checks. It never
changes source rows: a violation of the others is reported for a person to resolve.
--json prints one JSON object instead ({"repaired"?, "violations", "invariants": [...]}).
It works beside a running server on PostgreSQL; the embedded database is the server's while it runs.
`,
} as const;

type CommandName = keyof typeof USAGE;

class UsageError extends Error {}

/**
 * The seed's progress on stderr: a plain line per finished phase, and on a terminal also how far it
 * is and an estimate of the time left (from each phase's usual share of the time, SEED_PHASES).
 */
function seedProgress(terminal: boolean): (message: string) => void {
  const started = performance.now();
  let done = 0;
  return (message) => {
    const phase = SEED_PHASES.find((p) => message.startsWith(`${p.label}:`) || message === p.label);
    if (phase && message !== phase.label) done += phase.share;
    let line = `kith seed: ${message}`;
    if (terminal && done > 0 && done < 1) {
      const elapsed = (performance.now() - started) / 1000;
      const left = (elapsed / done) * (1 - done);
      line += ` (${Math.round(done * 100)}% after ${elapsed.toFixed(0)} s, about ${left.toFixed(0)} s left)`;
    }
    process.stderr.write(`${line}\n`);
  };
}

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
 * statement timeout; `serving` (the worker) keeps the configured one, as the server does. `prepare:
 * false` opens the database as it is (no migrations, no administrator): `kith migrate status` only reads.
 */
async function withDatabase<T>(
  run: (handle: DatabaseHandle & { prepared?: Prepared }) => Promise<T>,
  options: { serving?: boolean; prepare?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  let handle: DatabaseHandle & { prepared?: Prepared };
  try {
    handle =
      options.prepare === false
        ? await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, statementTimeoutMs: 0 })
        : await openAndPrepare(options.serving ? config : { ...config, databaseStatementTimeout: 0 });
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

const MEMBER = { id: { type: 'string' }, username: { type: 'string' } } as const;

/** The `kith user` subcommands besides create, and their options. */
const ADMIN_OPTIONS = {
  list: { limit: { type: 'string' }, offset: { type: 'string' }, search: { type: 'string' } },
  show: MEMBER,
  deactivate: MEMBER,
  activate: MEMBER,
  block: { ...MEMBER, days: { type: 'string' } },
  unblock: MEMBER,
  promote: { ...MEMBER, role: { type: 'string' } },
  demote: MEMBER,
  delete: MEMBER,
  // --password is known only to be refused with the reason.
  'set-password': { ...MEMBER, 'password-stdin': { type: 'boolean' }, password: { type: 'string' } },
} as const satisfies Record<string, Options>;

type AdminSubcommand = keyof typeof ADMIN_OPTIONS;
const USER_SUBCOMMANDS = ['create', ...Object.keys(ADMIN_OPTIONS)];
const isUserSubcommand = (name: string): name is AdminSubcommand => Object.hasOwn(ADMIN_OPTIONS, name);

/** --id N or --username U, exactly one. */
function memberRef(values: { id?: string | undefined; username?: string | undefined }): members.MemberRef {
  if ((values.id === undefined) === (values.username === undefined)) {
    throw new UsageError('name the member with --id N or --username U (one of them); see kith user --help');
  }
  if (values.username !== undefined) return { username: values.username };
  const id = Number(values.id);
  if (!/^\d+$/.test(values.id ?? '') || !Number.isSafeInteger(id) || id < 1) {
    throw new UsageError('--id must be a positive integer');
  }
  return { id };
}

function whole(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}`);
  }
  return value;
}

const who = (user: { id: number; username: string }) => `user ${user.id} (${user.username})`;

/** `kith user <sub>` for the administration subcommands: parse, one service call, one line or JSON out. */
async function administer(sub: AdminSubcommand, args: string[]) {
  const parsed = parseCommand('user', args, ADMIN_OPTIONS[sub] as Options, true);
  if (!parsed) return;
  const { positionals } = parsed;
  // parseArgs's types lose the options of a union of tables; each table's own are all strings or booleans.
  const values = parsed.values as Record<string, string | boolean | undefined> & {
    id?: string;
    username?: string;
    role?: string;
    limit?: string;
    offset?: string;
    search?: string;
    days?: string;
  };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; see kith user --help`);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  switch (sub) {
    case 'list': {
      const query = {
        limit: whole('limit', values.limit, 50, 1),
        offset: whole('offset', values.offset, 0, 0),
        search: values.search,
      };
      const page = await withDatabase(({ db }) => members.listMembers(db, query));
      for (const m of page.items) {
        const row = {
          id: m.id,
          username: m.username,
          role: m.role,
          active: m.is_active,
          blocked: m.blocked_at !== null,
          date_joined: m.date_joined,
        };
        say(JSON.stringify(row));
      }
      const shown =
        page.items.length === 0 ? 'none shown' : `${query.offset + 1}-${query.offset + page.items.length} shown`;
      process.stderr.write(`kith: ${page.total} member${page.total === 1 ? '' : 's'}, ${shown}\n`);
      return;
    }
    case 'show': {
      const ref = memberRef(values);
      const { user, unseenNotifications, community } = await withDatabase(async ({ db }) => ({
        ...(await members.showMember(db, ref)),
        community: await loadCommunity(db),
      }));
      const shown = { ...presentMe(user, modeOf(community), unseenNotifications), is_active: user.is_active };
      say(JSON.stringify(shown, null, 2));
      return;
    }
    case 'deactivate':
    case 'activate': {
      const ref = memberRef(values);
      const active = sub === 'activate';
      const { user, changed } = await withDatabase(({ db }) => members.setActive(db, ref, active));
      if (changed) say(`${who(user)} ${sub}d`);
      else say(`${who(user)} was already ${active ? 'active' : 'inactive'}`);
      return;
    }
    case 'block': {
      const ref = memberRef(values);
      const days = values.days === undefined ? undefined : whole('days', values.days, 1, 1);
      const user = await withDatabase(({ db }) => members.blockMember(db, ref, days));
      const until = user.block_expires_at ? ` until ${user.block_expires_at.toISOString()}` : ' for ever';
      say(`${who(user)} blocked${until}`);
      return;
    }
    case 'unblock': {
      const ref = memberRef(values);
      const { user, changed } = await withDatabase(({ db }) => members.unblockMember(db, ref));
      say(changed ? `${who(user)} unblocked` : `${who(user)} was not blocked`);
      return;
    }
    case 'promote':
    case 'demote': {
      const ref = memberRef(values);
      let role: Role | null = null;
      if (sub === 'promote') {
        const wanted = values.role ?? 'admin';
        if (!isRole(wanted)) throw new UsageError(`--role must be ${ROLES.slice(0, -1).join(', ')} or ${ROLES.at(-1)}`);
        role = wanted;
      }
      const { user, changed } = await withDatabase(({ db }) => members.setRole(db, ref, role));
      const state = role === null ? 'no role' : `role ${role}`;
      say(`${who(user)} ${changed ? 'now has' : 'already had'} ${state}`);
      return;
    }
    case 'delete': {
      const ref = memberRef(values);
      const user = await withDatabase(({ db }) => members.deleteMember(db, ref));
      say(`${who(user)} deleted`);
      return;
    }
    case 'set-password': {
      if (values.password !== undefined) {
        throw new UsageError(
          '--password is not accepted here: other users see command lines in ps. Pipe the password on stdin',
        );
      }
      const ref = memberRef(values);
      // Before opening the database: the embedded one stays free while someone types.
      const password = await readPassword(values['password-stdin'] === true);
      const problem = passwordProblem(password);
      if (problem) fail(`password: ${problem}`);
      const user = await withDatabase(({ db }) => members.setPassword(db, ref, password));
      say(`${who(user)} has a new password`);
      return;
    }
    default:
      sub satisfies never;
  }
}

/** The new password: stdin's one line (piped, or --password-stdin), or typed twice without echo on a terminal. */
async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (password === '') throw new UsageError('no password on stdin');
    if (/[\r\n]/.test(password)) throw new UsageError('the password on stdin must be one line');
    return password;
  }
  const password = await promptHidden('New password: ');
  if ((await promptHidden('The same again: ')) !== password) throw new UsageError('the two passwords differ');
  return password;
}

/** Reads one line from the terminal without echoing it; Ctrl-C or Ctrl-D cancels. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = (result: string | undefined) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (result === undefined) reject(new UsageError('cancelled'));
      else resolve(result);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(typed.join(''));
        if (ch === '\u0003' || ch === '\u0004') return finish(undefined);
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed.push(ch);
      }
    };
    stdin.on('data', onData);
  });
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
    case 'migrate': {
      const parsed = parseCommand('migrate', rest, {}, true);
      if (!parsed) return;
      const [sub, ...extra] = parsed.positionals;
      if (sub !== undefined && sub !== 'status')
        throw new UsageError(`unknown subcommand "migrate ${sub}"; see kith migrate --help`);
      if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"; see kith migrate --help`);
      if (sub === 'status') {
        const states = await withDatabase(({ db }) => migrationStatus(db), { prepare: false });
        const width = Math.max(...states.map((m) => m.name.length));
        for (const { name, appliedAt } of states) {
          const state = appliedAt ? `applied  ${appliedAt.toISOString()}` : 'pending';
          process.stdout.write(`${name.padEnd(width)}  ${state}\n`);
        }
        return;
      }
      const migrated = await withDatabase(async ({ prepared }) => prepared?.migrated ?? []);
      process.stdout.write(
        migrated.length === 0 ? 'already up to date\n' : migrated.map((m) => `applied ${m}\n`).join(''),
      );
      return;
    }
    case 'user': {
      const [sub, ...args] = rest;
      if (sub === '--help' || sub === '-h') {
        process.stdout.write(USAGE.user);
        return;
      }
      if (sub === undefined || sub.startsWith('-')) {
        throw new UsageError(`user needs a subcommand first (${USER_SUBCOMMANDS.join(', ')}); see kith user --help`);
      }
      if (sub !== 'create') {
        if (!isUserSubcommand(sub)) throw new UsageError(`unknown subcommand "user ${sub}"; see kith user --help`);
        await administer(sub, args);
        return;
      }
      const parsed = parseCommand(
        'user',
        args,
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
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; see kith user --help`);
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
        'celebrity-followers': { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean' },
        append: { type: 'boolean' },
        'allow-production': { type: 'boolean' },
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
      const celebrityFollowers = count(
        'celebrity-followers',
        values['celebrity-followers'],
        defaultCelebrityFollowers(users),
      );
      if (celebrityFollowers > users - 1) throw new UsageError('--celebrity-followers must be less than --users');
      const seed = count('seed', values.seed, 1);
      if (loadConfig().production && !values['allow-production']) {
        throw new UsageError(
          'kith seed refuses NODE_ENV=production: it writes a large synthetic community and holds long locks on a live database; pass --allow-production if you mean it',
        );
      }
      const result = await withDatabase(async ({ db }) => {
        const members = await existingMembers(db);
        if (members > 0 && !values.append) {
          throw new UsageError(
            `the database already holds ${members} members; kith seed adds a synthetic community beside them only with --append`,
          );
        }
        // The clock starts with the seed, once the database is open.
        const log = values.quiet ? undefined : seedProgress(process.stderr.isTTY === true);
        return seedCommunity(db, { users, celebrityRequests, celebrityFollowers, seed, log });
      });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      if (Object.values(result.check).some((wrong) => wrong > 0)) {
        fail('the seeded data failed its check (see "check" above)');
      }
      return;
    }
    case 'check': {
      const parsed = parseCommand('check', rest, {
        repair: { type: 'boolean' },
        json: { type: 'boolean' },
        limit: { type: 'string' },
      });
      if (!parsed) return;
      const { values } = parsed;
      const limit = whole('limit', values.limit, 10, 0);
      const { repaired, check } = await withDatabase(
        async ({ db }) => {
          const pending = (await migrationStatus(db)).filter((m) => !m.appliedAt);
          if (pending.length > 0) {
            throw new UsageError(`the database has ${pending.length} pending migrations; run kith migrate first`);
          }
          const repaired = values.repair ? await repairGraph(db) : undefined;
          return { repaired, check: await checkGraph(db, { limit }) };
        },
        { prepare: false },
      );
      if (values.json) process.stdout.write(`${JSON.stringify({ ...(repaired ? { repaired } : {}), ...check })}\n`);
      else process.stdout.write(describeCheck(check, repaired));
      if (check.violations > 0) process.exitCode = 1;
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
          const worker = new WebhookWorker(handle.db, { config: config.webhooks, retention: config.retention, log });
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

/** `kith check`'s text: what a repair changed, then one line per invariant and its examples. */
function describeCheck(check: GraphCheck, repaired: Record<string, number> | undefined): string {
  const lines: string[] = [];
  for (const [name, rows] of Object.entries(repaired ?? {})) {
    if (rows > 0) lines.push(`repaired ${name}: ${rows} row${rows === 1 ? '' : 's'}`);
  }
  if (repaired && lines.length === 0) lines.push('repaired nothing: the derived data was right');
  for (const invariant of check.invariants) {
    if (invariant.violations === 0) {
      lines.push(`ok    ${invariant.name}`);
      continue;
    }
    const fix = invariant.derived ? 'derived: kith check --repair recomputes it' : 'not derived: resolve by hand';
    lines.push(`FAIL  ${invariant.name}: ${invariant.violations} violations (${invariant.description}; ${fix})`);
    for (const row of invariant.examples) lines.push(`      ${JSON.stringify(row)}`);
  }
  const failed = check.invariants.filter((i) => i.violations > 0).length;
  lines.push(
    failed === 0
      ? `kith check: all ${check.invariants.length} invariants hold`
      : `kith check: ${failed} of ${check.invariants.length} invariants fail, ${check.violations} violations`,
  );
  return `${lines.join('\n')}\n`;
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(USAGE, name);
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) fail(error.message);
  if (error instanceof AppError) {
    // One field with one message is the detail already ("password: …"); more are listed after it.
    const fields = (error.extra?.errors ?? {}) as Record<string, string[]>;
    const redundant = Object.keys(error.extra ?? {}).length === 1 && Object.values(fields).flat().length === 1;
    fail(`${error.detail}${error.extra && !redundant ? ` ${JSON.stringify(error.extra)}` : ''}`);
  }
  throw error;
}
