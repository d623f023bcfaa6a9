import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tempDir } from './temp.js';
import { JWT_SECRET } from './world.js';

// Real kith processes, run from source the one way the tests run them: `node --import tsx <script>`.

export const SERVER_SCRIPT = 'src/main.ts';
export const CLI_SCRIPT = 'src/cli/index.ts';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `node --import tsx <script> ...args`. */
export function spawnSource(script: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], options);
}

/**
 * The environment of a process on the embedded database in `dataDir`, whatever DATABASE_URL says (the
 * command a new user runs): no DATABASE_URL, no JWT_SECRET (the process keeps its own in the directory).
 */
export function embeddedEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KITH_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ...extra,
  };
  delete env.DATABASE_URL;
  delete env.JWT_SECRET;
  return env;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a script to its end without blocking the event loop (so several can run at once); its stdin is
 * `input`, if given, and then closed.
 */
export function runSource(script: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  const child = spawnSource(script, args, { env });
  child.stdin?.end(input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

/** `kith <args>` run to its end (stdin: `input`, then closed). */
export const runCli = (args: string[], env: NodeJS.ProcessEnv, input?: string) =>
  runSource(CLI_SCRIPT, args, env, input);

/** A long-running `kith <args>` (such as `worker`), once it has written `readyText` to stdout; its stderr is the test's. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv, readyText: string): Promise<ChildProcess> {
  const child = spawnSource(CLI_SCRIPT, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes(readyText)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`kith ${args.join(' ')} exited with ${code}`)));
  });
  return child;
}

export interface ServerOptions {
  /** The whole environment of the server but PORT, which is a free port chosen here. */
  env: NodeJS.ProcessEnv;
  /** Its stderr: kept (the last 20 kB, in `stderr` and in failure messages; the default) or the test's own. */
  stderr?: 'keep' | 'inherit';
  /** How long it may take to answer /readyz with 200 (default 60 s), and how often it is asked (default every 200 ms). */
  readyWithinMs?: number;
  pollMs?: number;
  /** A directory removed once the server has stopped. */
  ownDir?: string;
}

/** A real `kith` server process (src/main.ts), started and answering /readyz with 200. */
export class ServerProcess {
  #stderr = '';

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly ownDir: string | undefined,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-20_000);
    });
  }

  /** Spawns src/main.ts with `options.env` on a free port and waits until /readyz answers 200. */
  static async spawn(options: ServerOptions): Promise<ServerProcess> {
    const port = await freePort();
    // --stop-with-parent: a server whose test file was killed (a timeout) stops too, instead of living on
    // orphaned and holding the test runner's pipes open.
    const child = spawnSource(SERVER_SCRIPT, ['--stop-with-parent'], {
      env: { ...options.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', options.stderr === 'inherit' ? 'inherit' : 'pipe'],
    });
    const server = new ServerProcess(child, `http://127.0.0.1:${port}`, options.ownDir);
    const limitMs = options.readyWithinMs ?? 60_000;
    const deadline = Date.now() + limitMs;
    for (;;) {
      const ready = await fetch(`${server.url}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return server;
      if (!server.alive) {
        await server.stop();
        throw new Error(`kith exited with ${child.exitCode ?? child.signalCode}: ${server.stderr}`);
      }
      if (Date.now() > deadline) {
        await server.stop('SIGKILL');
        throw new Error(`kith did not answer /readyz with 200 within ${limitMs} ms: ${server.stderr}`);
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
    }
  }

  /** A server on PostgreSQL at `databaseUrl` with the tests' JWT secret, in a data directory of its own. */
  static start(
    databaseUrl: string,
    env: Record<string, string> = {},
    options: Omit<ServerOptions, 'env' | 'ownDir'> = {},
  ): Promise<ServerProcess> {
    const dataDir = tempDir('kith-srv-');
    return ServerProcess.spawn({
      ...options,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        JWT_SECRET,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
        KITH_DATA_DIR: dataDir,
        ...env,
      },
      ownDir: dataDir,
    });
  }

  get pid() {
    return this.child.pid as number;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The end of what the process wrote to stderr (for failure messages; empty when it is inherited). */
  get stderr() {
    return this.#stderr;
  }

  /** Sends `signal` (unless it has exited already), waits for the exit and returns its exit code (null if killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.alive) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill(signal);
      await exited;
    }
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
    return this.child.exitCode;
  }
}
