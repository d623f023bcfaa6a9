import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JWT_SECRET } from './world.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real `kith` server process (src/main.ts) on PostgreSQL, with the tests' JWT secret. */
export class ServerProcess {
  #stderr = '';

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly dataDir: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-20_000);
    });
  }

  static async start(databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'kith-srv-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        JWT_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
        KITH_DATA_DIR: dataDir,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const server = new ServerProcess(child, `http://127.0.0.1:${port}`, dataDir);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${server.url}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return server;
      if (!server.alive) throw new Error(`kith exited with ${child.exitCode}: ${server.stderr}`);
      if (Date.now() > deadline) throw new Error('kith did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The end of what the process wrote to stderr (for failure messages). */
  get stderr() {
    return this.#stderr;
  }

  async stop() {
    if (this.alive) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
