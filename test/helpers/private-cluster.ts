import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server-process.js';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed the Debian way, if any. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/**
 * A PostgreSQL cluster of its own in a temporary directory, on a free port of 127.0.0.1, that a test
 * may stop, start and freeze without touching anyone else's database. PostgreSQL refuses to run as
 * root, so as root it runs as the `postgres` user.
 */
export class PrivateCluster {
  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: string[],
  ) {}

  /** An empty directory for a cluster, owned by the user the cluster runs as. */
  private static async place(bin: string): Promise<PrivateCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'kith-pg-'));
    const asUser: string[] = [];
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
      asUser.push('runuser', '-u', 'postgres', '--');
    }
    return new PrivateCluster(bin, dir, await freePort(), asUser);
  }

  /** A new cluster (initdb's defaults: `wal_level=replica`, replication connections trusted on 127.0.0.1). */
  static async create(bin: string): Promise<PrivateCluster> {
    const cluster = await PrivateCluster.place(bin);
    await cluster.exec('initdb', ['-D', cluster.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await cluster.start();
    return cluster;
  }

  /**
   * A streaming replica of `primary` (running): `pg_basebackup -R` copies it and writes the standby
   * settings, and the copy starts as a hot standby on a port of its own.
   */
  static async replicaOf(primary: PrivateCluster): Promise<PrivateCluster> {
    const cluster = await PrivateCluster.place(primary.bin);
    const source = ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'];
    const copy = ['-D', cluster.data, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'];
    await cluster.exec('pg_basebackup', [...source, ...copy]);
    await cluster.start();
    return cluster;
  }

  get data() {
    return join(this.dir, 'data');
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private exec(tool: string, args: string[]) {
    const [command, ...rest] = [...this.asUser, join(this.bin, tool), ...args] as [string, ...string[]];
    return run(command, rest, { cwd: this.dir, timeout: 60_000 });
  }

  async start() {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40 -c wal_level=replica`;
    await this.exec('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'log'), '-o', options, '-w', 'start']);
  }

  /** `fast`: sessions are ended (57P01) and the server stops; `immediate`: as a crash would. */
  async stop(mode: 'fast' | 'immediate' = 'fast') {
    await this.exec('pg_ctl', ['-D', this.data, '-m', mode, '-w', 'stop']);
  }

  /** The postmaster and every backend, for freezing (a socket that accepts and never answers). */
  private async pids(): Promise<number[]> {
    const postmaster = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    return [postmaster, ...stdout.split('\n').filter(Boolean).map(Number)];
  }

  /** SIGSTOP: connections stay open and new ones are accepted by the kernel, but nothing answers. */
  async freeze() {
    for (const pid of await this.pids()) process.kill(pid, 'SIGSTOP');
  }

  async thaw() {
    for (const pid of await this.pids()) process.kill(pid, 'SIGCONT');
  }

  async destroy() {
    await this.thaw().catch(() => undefined);
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
